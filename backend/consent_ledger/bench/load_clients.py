"""The load bench's client processes: each signs in as the brand and, for a while, runs a weighted
mix of checks, releases and grants over keep-alive HTTP, timing each; their reports are merged into
per-operation figures."""

from __future__ import annotations

import http.client
import json
import multiprocessing
import random
import statistics
import time
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from consent_ledger.bench.replicas import Replica, rss_mb

OPS = ("check", "release", "grant")
WEIGHTS = (6, 3, 1)
CATEGORIES = ["contact.email", "interests"]
PURPOSE = "marketing.email"


@dataclass(frozen=True)
class Plan:
    """What every client needs, picklable for the client processes."""

    ports: list[int]
    brand_key: bytes
    customers: list[str]


def run_clients(
    replicas: list[Replica], brand: LocalAccount, customers: list[LocalAccount], seconds: float, clients: int
) -> dict[str, Any]:
    rss_start = [rss_mb(r.process.pid) for r in replicas]
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    plan = Plan(
        ports=[r.port for r in replicas],
        brand_key=bytes(brand.key),
        customers=[c.address for c in customers],
    )
    workers = [context.Process(target=_client, args=(plan, n, seconds, queue)) for n in range(clients)]
    for worker in workers:
        worker.start()
    reports = [queue.get(timeout=seconds + 300) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    rss_end = [rss_mb(r.process.pid) for r in replicas]
    latencies: dict[str, list[float]] = {op: [] for op in OPS}
    errors: dict[str, int] = dict.fromkeys(OPS, 0)
    samples: list[str] = []
    elapsed = max(report["elapsed"] for report in reports)
    for report in reports:
        for op in OPS:
            latencies[op].extend(report["latencies"][op])
            errors[op] += report["errors"][op]
        samples.extend(report["samples"])
    ops = {op: _figures(latencies[op], errors[op], elapsed) for op in OPS}
    total = sum(len(v) for v in latencies.values())
    return {
        "replicas": [{"rss_start_mb": start, "rss_end_mb": end} for start, end in zip(rss_start, rss_end, strict=True)],
        "elapsed_s": round(elapsed, 1),
        "errors": sum(errors.values()),
        "error_samples": samples[:5],
        "per_s": round(total / elapsed, 1) if elapsed else 0.0,
        "ops": ops,
    }


def _figures(latencies: list[float], errors: int, elapsed: float) -> dict[str, Any]:
    if not latencies:
        return {"count": 0, "errors": errors, "per_s": 0.0, "p50_ms": None, "p99_ms": None}
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "count": len(ordered),
        "errors": errors,
        "per_s": round(len(ordered) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
    }


class _Api:
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            self.conn.request(method, path, None if body is None else json.dumps(body), headers)
            reply = self.conn.getresponse()
            data = reply.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            raise
        return reply.status, json.loads(data) if data else None

    def sign_in(self, account: LocalAccount) -> str:
        status, challenge = self.call("GET", f"/v1/auth/nonce?address={account.address}")
        if status != 200:
            raise RuntimeError(f"nonce: {status} {challenge}")
        signature = Account.sign_message(encode_defunct(text=challenge["message"]), account.key).signature
        body = {"message": challenge["message"], "signature": "0x" + signature.hex()}
        status, login = self.call("POST", "/v1/auth/login", body)
        if status != 200:
            raise RuntimeError(f"login: {status} {login}")
        return str(login["token"])


def _client(plan: Plan, index: int, seconds: float, queue: Any) -> None:
    rng = random.Random(index)  # noqa: S311 -- picks load, not secrets
    api = _Api(plan.ports[index % len(plan.ports)])
    brand = Account.from_key(plan.brand_key)
    token = api.sign_in(brand)
    latencies: dict[str, list[float]] = {op: [] for op in OPS}
    errors = dict.fromkeys(OPS, 0)
    samples: list[str] = []
    began = time.monotonic()
    deadline = began + seconds
    while time.monotonic() < deadline:
        op = rng.choices(OPS, WEIGHTS)[0]
        try:
            prepared = _prepare_grant(api) if op == "grant" else None
            started = time.perf_counter()
            ok, detail = _operate(api, op, (brand.address, token), plan.customers, rng, prepared)
            elapsed = time.perf_counter() - started
        except (OSError, http.client.HTTPException, RuntimeError, ValueError) as error:
            ok, detail, elapsed = False, f"{type(error).__name__}: {error}", 0.0
            api = _Api(plan.ports[index % len(plan.ports)])
        if ok:
            latencies[op].append(elapsed)
        else:
            errors[op] += 1
            if len(samples) < 5:
                samples.append(f"{op}: {detail}"[:300])
    queue.put({"latencies": latencies, "errors": errors, "samples": samples, "elapsed": time.monotonic() - began})


def _prepare_grant(api: _Api) -> tuple[LocalAccount, str]:
    """A new customer, signed in (not timed: the grant is)."""
    customer: LocalAccount = Account.create()
    return customer, api.sign_in(customer)


def _operate(
    api: _Api,
    op: str,
    brand: tuple[str, str],
    customers: list[str],
    rng: random.Random,
    prepared: tuple[LocalAccount, str] | None,
) -> tuple[bool, str]:
    address, token = brand
    if op == "check":
        questions = [
            {"customer": c, "categories": [rng.choice(CATEGORIES)], "purpose": PURPOSE}
            for c in rng.sample(customers, 20)
        ]
        status, body = api.call("POST", "/v1/permissions/check", {"questions": questions}, token)
        return status == 200 and all(body["answers"]), f"{status} {str(body)[:200]}"
    if op == "release":
        request = {"customers": rng.sample(customers, 5), "categories": CATEGORIES, "purpose": PURPOSE}
        status, body = api.call("POST", "/v1/releases", request, token)
        return status == 200 and len(body["released"]) == 5, f"{status} {str(body)[:200]}"
    if prepared is None:
        raise ValueError("a grant needs a signed-in customer")
    customer, customer_token = prepared
    status, typed = api.call(
        "POST",
        "/v1/me/typed-data/grant",
        {"brand": address, "categories": CATEGORIES, "purposes": [PURPOSE], "days": 30},
        customer_token,
    )
    if status != 200:
        return False, f"typed data {status} {str(typed)[:200]}"
    signature = Account.sign_typed_data(customer.key, full_message=typed).signature
    body = {"kind": "grant", "message": typed["message"], "signature": "0x" + signature.hex()}
    status, reply = api.call("POST", "/v1/me/submissions", body, customer_token)
    return status == 202, f"{status} {str(reply)[:200]}"
