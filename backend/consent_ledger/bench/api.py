"""API benchmark on a throwaway anvil and SQLite database, against a real uvicorn server over HTTP.

Figures: permission checks/s through POST /v1/permissions/check (1,000-question requests) and the
same questions through web3.py's `isAllowed(...).call()` one by one (the naive baseline, same run);
single-check latency p50/p99; records released/s through POST /v1/releases (100 customers x 5
categories); relayed grants confirmed/s (outbox -> batches -> receipts).
"""

from __future__ import annotations

import http.client
import json
import random
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from web3 import Web3

from consent_ledger.api.app import create_app
from consent_ledger.bench.chain import throwaway_chain
from consent_ledger.chain import eip712
from consent_ledger.chain.devnet import free_port
from consent_ledger.composition import AppContext, build_context
from consent_ledger.config import ANVIL_RELAYER_KEY, Settings
from consent_ledger.db.migrate import upgrade
from consent_ledger.domain import GrantRequest, uniform_terms
from consent_ledger.relayer.items import Kind

CATEGORIES = ["contact.email", "contact.phone", "interests", "location.coarse", "purchase_history"]
PURPOSE = "marketing.email"
Progress = Callable[[str], None]


class _Http:
    """A keep-alive JSON client (http.client costs ~0.1 ms a request here)."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: Any = None) -> Any:
        payload = None if body is None else json.dumps(body)
        try:
            self.conn.request(method, path, payload, self.headers)
            reply = self.conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closed the kept-alive connection while it was idle (a slow step in between): reopen.
            self.conn.close()
            self.conn.request(method, path, payload, self.headers)
            reply = self.conn.getresponse()
        data = reply.read()
        if reply.status >= 400:
            raise RuntimeError(f"{method} {path}: {reply.status} {data[:300]!r}")
        return json.loads(data) if data else None


def _serve(context: AppContext, settings: Settings) -> tuple[uvicorn.Server, threading.Thread]:
    app = create_app(settings, context_factory=lambda _s: context, run_relayer=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=settings.api_port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    return server, thread


def _token(port: int, account: LocalAccount) -> str:
    http = _Http(port)
    challenge = http.call("GET", f"/v1/auth/nonce?address={account.address}")
    signature = Account.sign_message(encode_defunct(text=challenge["message"]), account.key).signature
    login = http.call("POST", "/v1/auth/login", {"message": challenge["message"], "signature": "0x" + signature.hex()})
    return str(login["token"])


def _signed_grants(context: AppContext, brand: str, customers: list[LocalAccount]) -> list[tuple[GrantRequest, bytes]]:
    catalog = context.catalog
    now = int(time.time())
    domain = context.ledger.domain()
    items = []
    for customer in customers:
        request = GrantRequest(
            customer.address,
            brand,
            uniform_terms(catalog.category_mask(CATEGORIES[:3]), catalog.purpose_mask([PURPOSE])),
            now + 90 * 86_400,
            catalog.notice.hash_bytes,
            0,
            now + 3_600,
        )
        items.append((request, eip712.sign_digest(customer.key, eip712.grant_digest(domain, request))))
    return items


def api_report(
    settings: Settings, customers: int = 1_000, relayed: int = 1_000, progress: Progress = lambda _: None
) -> dict[str, Any]:
    with throwaway_chain(settings, "consent-api-bench-") as chain:
        bench_settings = settings.model_copy(
            update={
                "rpc_url": chain.url,
                "deployments_dir": chain.deployments_dir,
                "database_url": f"sqlite:///{chain.root / 'bench.db'}",
                "relayer_key": None,
                "api_port": free_port(),
                "relayer_batch_size": 200,
                "env": "development",
                # one client from 127.0.0.1, thousands of requests: measure the service, not the limiter
                "rate_limit_per_address": "",
                "rate_limit_per_identity": "",
                "rate_limit_nonces_per_address": "",
            }
        )
        upgrade(f"sqlite:///{chain.root / 'bench.db'}")  # as `consent-ledger db upgrade` would
        context = build_context(bench_settings)
        try:
            return _measure(context, bench_settings, customers, relayed, chain.url, chain.artifact.abi, progress)
        finally:
            context.close()


def _timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def _prepare(context: AppContext, count: int, progress: Progress) -> tuple[LocalAccount, str, list[LocalAccount]]:
    brand_account: LocalAccount = Account.create()
    brand = context.brands.add(brand_account.address, "Bench Brand")
    accounts: list[LocalAccount] = [Account.create() for _ in range(count)]
    progress(f"storing {count} customer records")
    for n, account in enumerate(accounts):
        context.vault.put_fields(
            account.address, {c.replace(".", "_"): (c, f"{c} value of customer {n}") for c in CATEGORIES}
        )
    progress(f"granting {count} customers (batches of 200)")
    relayer = context.ledger.sender(ANVIL_RELAYER_KEY)
    for first in range(0, count, 200):
        context.ledger.grant_batch(relayer, _signed_grants(context, brand, accounts[first : first + 200]))
    return brand_account, brand, accounts


def _naive_rate(context: AppContext, rpc_url: str, abi: list[dict[str, Any]], brand: str, qs: list[Any]) -> float:
    w3 = Web3(Web3.HTTPProvider(rpc_url))
    contract = w3.eth.contract(address=context.ledger.address, abi=abi)
    catalog = context.catalog

    def loop() -> None:
        for q in qs:
            categories = catalog.category_mask(q["categories"])
            contract.functions.isAllowed(q["customer"], brand, categories, catalog.purpose_mask([q["purpose"]])).call()

    return len(qs) / _timed(loop)


def _latencies(http: _Http, qs: list[Any]) -> list[float]:
    latencies = []
    for q in qs:
        began = time.perf_counter()
        http.call("POST", "/v1/permissions/check", {"questions": [q]})
        latencies.append((time.perf_counter() - began) * 1000)
    return sorted(latencies)


def _release_rate(http: _Http, accounts: list[LocalAccount], rounds: int = 10) -> float:
    released = 0

    def run() -> None:
        nonlocal released
        for r in range(rounds):
            group = [a.address for a in accounts[(r * 100) % len(accounts) :][:100]]
            body = http.call("POST", "/v1/releases", {"customers": group, "categories": CATEGORIES, "purpose": PURPOSE})
            released += len(body["released"])

    seconds = _timed(run)
    return released / seconds


def _relay_rate(context: AppContext, brand: str, relayed: int) -> tuple[float, int]:
    fresh = [Account.create() for _ in range(relayed)]
    for request, signature in _signed_grants(context, brand, fresh):
        context.outbox.enqueue(Kind.GRANT, request, signature)
    seconds = _timed(context.relayer.drain)
    confirmed = context.outbox.counts().get("confirmed", 0)
    return confirmed / seconds, confirmed


def _measure(
    context: AppContext,
    settings: Settings,
    count: int,
    relayed: int,
    rpc_url: str,
    abi: list[dict[str, Any]],
    progress: Progress,
) -> dict[str, Any]:
    brand_account, brand, accounts = _prepare(context, count, progress)
    server, thread = _serve(context, settings)
    try:
        http = _Http(settings.api_port, _token(settings.api_port, brand_account))
        rng = random.Random(5)  # noqa: S311 -- reproducible questions
        pool = [a.address for a in accounts] + [Account.create().address for _ in range(count // 4)]

        def questions(n: int) -> list[dict[str, Any]]:
            return [
                {"customer": rng.choice(pool), "categories": rng.sample(CATEGORIES, 2), "purpose": PURPOSE}
                for _ in range(n)
            ]

        progress("permission checks through the API, 1,000 questions a request")
        batches = [questions(1_000) for _ in range(30)]
        http.call("POST", "/v1/permissions/check", {"questions": batches[0]})  # warm-up
        checks_per_s = 30_000 / _timed(
            lambda: [http.call("POST", "/v1/permissions/check", {"questions": b}) for b in batches]
        )
        progress("naive web3.py loop (isAllowed one by one)")
        naive_per_s = _naive_rate(context, rpc_url, abi, brand, batches[1][:300])
        progress("single-check latency")
        latencies = _latencies(http, questions(500))
        progress("releases, 100 customers x 5 categories a request")
        released_per_s = _release_rate(http, accounts)
        progress(f"relaying {relayed} signed grants from the outbox")
        relayed_per_s, confirmed = _relay_rate(context, brand, relayed)
    finally:
        server.should_exit = True
        thread.join(10)
    return {
        "checks_per_s": round(checks_per_s),
        "naive_checks_per_s": round(naive_per_s),
        "ratio_vs_naive": round(checks_per_s / naive_per_s, 1),
        "check_p50_ms": round(statistics.median(latencies), 2),
        "check_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "records_released_per_s": round(released_per_s),
        "grants_confirmed_per_s": round(relayed_per_s),
        "grants_confirmed": confirmed,
        "customers": count,
        "database": "sqlite",
    }
