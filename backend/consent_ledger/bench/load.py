"""Mixed load against `serve` replicas on PostgreSQL: two replicas, then one, same load, same chain.

Several client processes (`clients`) share the replicas round-robin and, for `seconds`, each runs a
weighted mix of operations over keep-alive HTTP, timing each one:

- check: POST /v1/permissions/check with 20 questions about seeded customers;
- release: POST /v1/releases of 5 seeded customers (2 categories; a receipt and a log leaf per record);
- grant: a new customer's typed data fetched, signed with its key, and submitted (202).

Every answer that is not a success is an error (the figure must be 0). Each replica's resident memory is
read from /proc before and after the load. The result is one JSON object; nothing is asserted on time.
Each set-up gets its own throwaway PostgreSQL database; the chain (a throwaway anvil) is shared.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from psycopg import sql
from sqlalchemy.engine import make_url

from consent_ledger.bench.chain import BenchChain, throwaway_chain
from consent_ledger.chain import eip712
from consent_ledger.chain.devnet import free_port
from consent_ledger.composition import build_context, open_storage
from consent_ledger.config import ANVIL_RELAYER_KEY, Settings
from consent_ledger.domain import GrantRequest, uniform_terms

Progress = Callable[[str], None]
OPS = ("check", "release", "grant")
WEIGHTS = (6, 3, 1)
CATEGORIES = ["contact.email", "interests"]
PURPOSE = "marketing.email"
DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Plan:
    """What every client needs, picklable for the client processes."""

    ports: list[int]
    brand_key: bytes
    customers: list[str]


def load_report(
    settings: Settings,
    seconds: float = 120.0,
    clients: int = 4,
    customers: int = 200,
    pg_admin_url: str = DEFAULT_PG_ADMIN_URL,
    progress: Progress = lambda _: None,
) -> dict[str, Any]:
    with throwaway_chain(settings, "consent-load-bench-") as chain:
        brand: LocalAccount = Account.create()
        seeded: list[LocalAccount] = [Account.create() for _ in range(customers)]
        progress(f"granting {customers} customers on-chain")
        _grant_on_chain(chain, settings, brand.address, seeded)
        setups: dict[str, Any] = {}
        for name, replicas in (("two_replicas", 2), ("one_replica", 1)):
            with _database(pg_admin_url) as database:
                bench = _settings(settings, chain, database)
                progress(f"{name}: migrating and filling a fresh PostgreSQL database")
                _fill(bench, brand.address, seeded)
                with _replicas(bench, replicas, chain.root / name) as running:
                    progress(f"{name}: {clients} clients for {seconds:g} s against {replicas} replica(s)")
                    setups[name] = _run(running, brand, seeded, seconds, clients)
    one, two = setups["one_replica"], setups["two_replicas"]
    ratio = {
        op: {
            "per_s": _ratio(two["ops"][op]["per_s"], one["ops"][op]["per_s"]),
            "p99_ms": _ratio(two["ops"][op]["p99_ms"], one["ops"][op]["p99_ms"]),
        }
        for op in OPS
    }
    ratio["all"] = {"per_s": _ratio(two["per_s"], one["per_s"])}
    return {
        "seconds": seconds,
        "clients": clients,
        "customers": customers,
        "mix": dict(zip(OPS, WEIGHTS, strict=True)),
        "errors": one["errors"] + two["errors"],
        "setups": setups,
        "ratio_two_to_one": ratio,
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if not a or not b else round(a / b, 2)


def _settings(settings: Settings, chain: BenchChain, database: str) -> Settings:
    return settings.model_copy(
        update={
            "env": "development",
            "rpc_url": chain.url,
            "deployments_dir": chain.deployments_dir,
            "database_url": database,
            "var_dir": chain.root / "var",
            "relayer_key": None,
            "anchor_every_seconds": 5.0,
        }
    )


def _grant_on_chain(chain: BenchChain, settings: Settings, brand: str, customers: list[LocalAccount]) -> None:
    from consent_ledger.catalog import default_catalog  # noqa: PLC0415 -- only the set-up needs it

    catalog = default_catalog()
    now = int(chain.rpc.get_block("latest")["timestamp"], 16)
    domain = chain.ledger.domain()
    relayer = chain.ledger.sender(ANVIL_RELAYER_KEY)
    items = []
    for customer in customers:
        request = GrantRequest(
            customer.address,
            brand,
            uniform_terms(catalog.category_mask(CATEGORIES), catalog.purpose_mask([PURPOSE])),
            now + 90 * 86_400,
            catalog.notice.hash_bytes,
            0,
            now + 3_600,
        )
        items.append((request, eip712.sign_digest(customer.key, eip712.grant_digest(domain, request))))
    for first in range(0, len(items), 200):
        chain.ledger.grant_batch(relayer, items[first : first + 200])


def _fill(settings: Settings, brand: str, customers: list[LocalAccount]) -> None:
    open_storage(settings, migrate=True).close()
    context = build_context(settings)
    try:
        context.brands.add(brand, "Load Bench Brand")
        for n, customer in enumerate(customers):
            context.vault.put_fields(
                customer.address,
                {"email": ("contact.email", f"customer{n}@example.org"), "interests": ("interests", "hiking")},
            )
    finally:
        context.close()


@contextmanager
def _database(admin_url: str) -> Iterator[str]:
    name = f"cl_bench_{uuid.uuid4().hex}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


NO_RATE_LIMITS = ("rate_limit_per_address", "rate_limit_per_identity", "rate_limit_nonces_per_address")


@dataclass
class _Replica:
    process: subprocess.Popen[bytes]
    port: int
    log: Path


def _env(settings: Settings, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
    env.update(
        {
            "CONSENT_ENV": settings.env,
            "CONSENT_RPC_URL": settings.rpc_url,
            "CONSENT_DEPLOYMENTS_DIR": str(settings.deployments_path),
            "CONSENT_DATABASE_URL": str(settings.database_url),
            "CONSENT_VAR_DIR": str(settings.var_path),
            "CONSENT_API_PORT": str(port),
            "CONSENT_ANCHOR_EVERY_SECONDS": str(settings.anchor_every_seconds),
            # the clients all come from 127.0.0.1 and sign in a new customer per grant: the benchmark
            # measures the service, not the rate limiter (test_rate_limits shows the limits)
            **{f"CONSENT_{name.upper()}": "" for name in NO_RATE_LIMITS},
        }
    )
    return env


@contextmanager
def _replicas(settings: Settings, count: int, root: Path) -> Iterator[list[_Replica]]:
    root.mkdir(parents=True, exist_ok=True)
    started: list[_Replica] = []
    try:
        for _ in range(count):
            port = free_port()
            log = root / f"serve-{port}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "consent_ledger.cli.main", "serve"],
                    env=_env(settings, port),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            started.append(_Replica(process, port, log))
        for replica in started:
            _wait_ready(replica)
        yield started
    finally:
        for replica in started:
            _stop(replica.process)


def _wait_ready(replica: _Replica, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if replica.process.poll() is not None:
            raise RuntimeError(f"a replica exited with {replica.process.returncode}: {replica.log.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", replica.port, timeout=2)
            conn.request("GET", "/v1/ready")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"a replica was not ready within {timeout:g}s: {replica.log.read_text()[-2000:]}")
        time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _run(
    replicas: list[_Replica], brand: LocalAccount, customers: list[LocalAccount], seconds: float, clients: int
) -> dict[str, Any]:
    rss_start = [_rss_mb(r.process.pid) for r in replicas]
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
    rss_end = [_rss_mb(r.process.pid) for r in replicas]
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


# ---------------------------------------------------------------------------------------- client process


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
