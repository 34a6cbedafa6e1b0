"""Webhook benchmark: revocations confirmed on-chain to webhooks received, through the real delivery plane.

On a throwaway anvil and a throwaway SQLite (or PostgreSQL) database, with the whole server context built as
`serve` builds it: `brands` brands, each with one endpoint (consent.revoked) on one real loopback receiver
(`consent_ledger.client.receiver`, verifying every webhook's v1 and v1a signatures and answering the
acknowledgement in its body), run in a process of its own as a brand's receiver is
(bench.receiver_process). `revocations` customers grant one brand each (round robin; signed grants
relayed in batches through `grantBatchBySig`), then revoke, relayed in batches of `batch` through
`revokeBatchBySig`. The real indexer and the real webhook worker (as `serve` starts them: the indexer
every relayer interval, the worker every `webhook_interval`, leased, with its sender threads and
per-endpoint cap) turn each indexed revocation into an outbox event and deliver it.

Latency of an event: from the moment its revocation's receipt confirmed (the bench's wall clock when
`eth_getTransactionReceipt` answered for the batch transaction that revoked it; the block timestamp has
only whole seconds) to the moment the receiver received it, verified. `deliveries_per_s`: distinct events
received per second between the first revocation confirmed and the last event received. `lost`:
revocations no event arrived for within the wait; `duplicates`: revocations for which more than one
distinct event id arrived (what deduplication by event id could not catch); `redeliveries`: webhooks
whose event id had arrived already (at-least-once delivery, deduplicated by the receiver).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import func, select

from consent_ledger.bench.chain import BenchChain, throwaway_chain
from consent_ledger.bench.gas import SignedGrants
from consent_ledger.bench.load import throwaway_database
from consent_ledger.bench.receiver_process import Arrival, ReceiverProcess
from consent_ledger.composition import AppContext, build_context
from consent_ledger.config import ANVIL_DEFAULT_KEY, Settings
from consent_ledger.db.migrate import upgrade
from consent_ledger.errors import InputError
from consent_ledger.webhooks.models import OutboxAttempt

Progress = Callable[[str], None]
GRANT_BATCH = 400
GRANT_GAS = 24_000_000  # explicit: estimating each batch would execute it twice
REVOKE_GAS = 24_000_000
TARGETS = {"latency_p99_ms": 2_000, "deliveries_per_s": 500}


class _Arrivals:
    """What the receiver got, in order."""

    def __init__(self) -> None:
        self.items: list[Arrival] = []
        self._lock = threading.Lock()
        self._unique = 0

    def add(self, arrival: Arrival) -> None:
        with self._lock:
            self.items.append(arrival)
            self._unique += 0 if arrival.duplicate else 1

    @property
    def unique(self) -> int:
        with self._lock:
            return self._unique


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _bench_settings(settings: Settings, chain: BenchChain, url: str) -> Settings:
    return settings.model_copy(
        update={
            "env": "development",
            "rpc_url": chain.url,
            "deployments_dir": chain.deployments_dir,
            "database_url": url,
            "var_dir": chain.root / "var",
            "relayer_key": None,  # the relayer is not started: the bench relays its own batches
            "relayer_keystore": None,
            "master_key": None,  # the throwaway installation's own secrets, made under var_dir
            "token_secret": None,
            "webhook_signing_key": None,
            "webhook_dev_destinations": True,  # the receiver is on loopback
            "confirmations": 0,
        }
    )


def webhooks_report(
    settings: Settings,
    revocations: int = 1_000,
    *,
    brands: int = 8,
    batch: int = 250,
    wait_s: float = 120.0,
    pg_admin_url: str | None = None,
    progress: Progress = lambda _: None,
) -> dict[str, Any]:
    """The figures (see the module's docstring); on SQLite, or with `pg_admin_url` on a throwaway PostgreSQL
    database made with it."""
    if min(revocations, brands, batch) < 1:
        raise InputError("revocations, brands and batch are at least 1")
    with ExitStack() as stack:
        chain = stack.enter_context(throwaway_chain(settings, "consent-webhooks-"))
        if pg_admin_url is None:
            url = f"sqlite:///{chain.root / 'webhooks.db'}"
        else:
            url = stack.enter_context(throwaway_database(pg_admin_url))
        upgrade(url)
        context = build_context(_bench_settings(settings, chain, url))
        try:
            figures = _run(context, chain, revocations, brands, batch, wait_s, progress)
        finally:
            context.close()
    return {"database": "sqlite" if pg_admin_url is None else "postgresql", **figures}


def _run(
    context: AppContext,
    chain: BenchChain,
    revocations: int,
    brands: int,
    batch: int,
    wait_s: float,
    progress: Progress,
) -> dict[str, Any]:
    signers = [SignedGrants(chain.ledger, ANVIL_DEFAULT_KEY) for _ in range(brands)]
    relayer = signers[0].relayer  # one sender for every transaction: one nonce sequence
    arrivals = _Arrivals()
    server = ReceiverProcess("/bench-hook", arrivals.add)
    try:
        url = server.start()
        secrets = []
        for n, signer in enumerate(signers):
            context.brands.add(signer.brand, f"Bench brand {n}")
            made = context.webhooks.create(signer.brand, url, ["consent.revoked"], f"bench {n}")
            secrets.append(str(made["secret"]))
        server.trust(secrets, [context.webhook_key.public_key])
        progress(f"{brands} brands, each with an endpoint at {url}")

        customers: list[tuple[LocalAccount, SignedGrants]] = [
            (Account.create(), signers[n % brands]) for n in range(revocations)
        ]
        for start in range(0, revocations, GRANT_BATCH):
            granting = customers[start : start + GRANT_BATCH]
            chain.ledger.grant_batch(relayer, [signer.signed_grant(c) for c, signer in granting], gas=GRANT_GAS)
            progress(f"granted {start + len(granting):,}/{revocations:,}")

        context.indexer.start(context.indexer_interval)  # as AppContext.start_workers does
        context.webhook_worker.start(context.settings.webhook_interval)
        confirmed: dict[str, float] = {}
        signed = [(str(c.address), signer.signed_revoke(c, 1)) for c, signer in customers]
        first_confirmed = None
        for start in range(0, revocations, batch):
            part = signed[start : start + batch]
            chain.ledger.revoke_batch(relayer, [request for _, request in part], gas=REVOKE_GAS)
            now = time.time()
            first_confirmed = first_confirmed or now
            confirmed.update((address, now) for address, _ in part)
            progress(f"revoked {start + len(part):,}/{revocations:,}; {arrivals.unique:,} webhooks received")
        deadline = time.monotonic() + wait_s
        told = time.monotonic()
        while arrivals.unique < revocations and time.monotonic() < deadline:
            time.sleep(0.05)
            if time.monotonic() - told >= 5:
                told = time.monotonic()
                progress(f"{arrivals.unique:,} of {revocations:,} webhooks received")
        progress(f"{arrivals.unique:,} of {revocations:,} received; waiting a moment for redeliveries")
        time.sleep(1.0)
        context.webhook_worker.stop()
        context.indexer.stop()
    finally:
        server.close()
    with context.sessions() as session:
        attempts = int(session.scalar(select(func.count()).select_from(OutboxAttempt)) or 0)
        failed = int(
            session.scalar(
                select(func.count())
                .select_from(OutboxAttempt)
                .where((OutboxAttempt.status_code.is_(None)) | (OutboxAttempt.status_code >= 300))
            )
            or 0
        )
    return _figures(arrivals, confirmed, first_confirmed or time.time(), revocations, brands, batch, attempts, failed)


def _figures(
    arrivals: _Arrivals,
    confirmed: dict[str, float],
    first_confirmed: float,
    revocations: int,
    brands: int,
    batch: int,
    attempts: int,
    failed: int,
) -> dict[str, Any]:
    first_at: dict[str, Arrival] = {}
    ids_per_customer: dict[str, set[str]] = {}
    redeliveries = 0
    for item in arrivals.items:
        if item.event_id in first_at:
            redeliveries += 1
            continue
        first_at[item.event_id] = item
        ids_per_customer.setdefault(item.customer, set()).add(item.event_id)
    unexpected = sum(1 for customer in ids_per_customer if customer not in confirmed)
    lost = sum(1 for customer in confirmed if customer not in ids_per_customer)
    duplicates = sum(len(ids) - 1 for customer, ids in ids_per_customer.items() if customer in confirmed)
    latencies = [(a.at - confirmed[a.customer]) * 1000 for a in first_at.values() if a.customer in confirmed]
    last = max((a.at for a in first_at.values()), default=first_confirmed)
    span = max(last - first_confirmed, 1e-6)
    return {
        "revocations": revocations,
        "brands": brands,
        "revoke_batch": batch,
        "events": len(first_at),
        "lost": lost,
        "duplicates": duplicates,
        "redeliveries": redeliveries,
        "unexpected": unexpected,
        "attempts": attempts,
        "failed_attempts": failed,
        "latency_from": "revocation receipt confirmed (bench wall clock) -> webhook received and verified",
        "latency_p50_ms": round(statistics.median(latencies)) if latencies else None,
        "latency_p99_ms": round(_percentile(latencies, 0.99)) if latencies else None,
        "latency_max_ms": round(max(latencies)) if latencies else None,
        "deliveries_per_s": round(len(first_at) / span, 1),
        "window_s": round(span, 2),
        "targets": TARGETS,
    }
