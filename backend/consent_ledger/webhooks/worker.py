"""The webhook worker: one leader (lease "webhooks") turns chain events and expiries into outbox events
and sends due deliveries from a small thread pool.

Each round: one scan (webhooks.emitter), then claims for the free threads, at most `per_endpoint` in
flight to any one endpoint, so an endpoint that hangs until the timeout or answers with megabytes holds
at most that many threads while every other endpoint's deliveries go on. A claim is leased for longer
than an attempt can take; a leader that dies mid-attempt leaves claims that lapse and are taken again
(at-least-once: receivers deduplicate by webhook-id). The attempt's result, the delivery's new state and
the `delivered` step leaf are written in one transaction by `WebhookOutbox.finish`.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.db.base import utc_now
from consent_ledger.propagation.steps import event_id_header
from consent_ledger.redaction import redact_text
from consent_ledger.webhooks.delivery import Resolve, attempt
from consent_ledger.webhooks.emitter import Emitter
from consent_ledger.webhooks.outbox import Claim, Outcome, WebhookOutbox
from consent_ledger.webhooks.signing import SigningKey, signature_headers
from consent_ledger.workers import BackgroundLoop, Guard

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryLimits:
    threads: int
    per_endpoint: int
    connect_timeout: float
    total_timeout: float
    allow_private: bool

    @property
    def lease(self) -> float:
        """How long a claim is held: well past the longest attempt."""
        return self.total_timeout + self.connect_timeout + 30.0


class WebhookWorker:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        outbox: WebhookOutbox,
        emitter: Emitter,
        key: SigningKey,
        limits: DeliveryLimits,
        *,
        guard: Guard | None = None,
        clock: Callable[[], datetime] = utc_now,
        resolve: Resolve | None = None,
    ) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.emitter = emitter
        self.key = key
        self.limits = limits
        self._clock = clock
        self._resolve = resolve
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._futures: set[Future[None]] = set()
        self._freed = threading.Event()
        self._interval = 0.2
        self._loop = BackgroundLoop("webhooks", self._step, guard)

    # ------------------------------------------------------------------ one round

    def scan(self) -> int:
        """Turn new chain events and passed expiries into outbox events (one batch)."""
        with self.sessions.begin() as session:
            return self.emitter.scan(session)

    def dispatch(self) -> int:
        """Claim due deliveries for the free threads and start them; returns how many started."""
        pool = self._ensure_pool()
        with self._lock:
            busy = dict(self._in_flight)
            free = self.limits.threads - sum(busy.values())
        if free <= 0:
            return 0
        now = self._clock()
        with self.sessions.begin() as session:
            claims = self.outbox.claim(session, now, free, busy, self.limits.per_endpoint, self.limits.lease)
        for claim in claims:
            with self._lock:
                self._in_flight[claim.endpoint_id] = self._in_flight.get(claim.endpoint_id, 0) + 1
            future = pool.submit(self._deliver, claim)
            with self._lock:
                self._futures.add(future)
            future.add_done_callback(functools.partial(self._done, claim))
        return len(claims)

    def _done(self, claim: Claim, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)
            left = self._in_flight.get(claim.endpoint_id, 0) - 1
            if left > 0:
                self._in_flight[claim.endpoint_id] = left
            else:
                self._in_flight.pop(claim.endpoint_id, None)
        self._freed.set()

    def _deliver(self, claim: Claim) -> None:
        try:
            outcome = self._send(claim)
            with self.sessions.begin() as session:
                self.outbox.finish(session, claim, outcome, self._clock())
        except Exception:  # the claim lapses and the delivery is tried again
            log.exception("webhooks: delivery %d failed unexpectedly", claim.delivery_id)

    def _send(self, claim: Claim) -> Outcome:
        now = self._clock()
        with self.sessions() as session:
            secrets = self.outbox.endpoints.signing_secrets(session, claim.endpoint_id, now)
        if not secrets:
            return Outcome(None, 0, "the endpoint has no valid signing secret")
        webhook_id = event_id_header(bytes.fromhex(claim.event_id))
        headers = signature_headers(webhook_id, int(now.timestamp()), claim.body, secrets, self.key)
        outcome = attempt(
            claim.url,
            claim.body,
            headers,
            allow_private=self.limits.allow_private,
            connect_timeout=self.limits.connect_timeout,
            total_timeout=self.limits.total_timeout,
            resolve=self._resolve,
        )
        if not outcome.delivered:
            log.info(
                "webhooks: attempt %d of %s failed: %s", claim.attempt, webhook_id, redact_text(outcome.error or "")
            )
        return outcome

    def in_flight(self) -> int:
        with self._lock:
            return len(self._futures)

    def drain(self, rounds: int = 10_000) -> None:
        """Scan and deliver until nothing is due and nothing is in flight (for tests and commands)."""
        for _ in range(rounds):
            scanned = self.scan()
            started = self.dispatch()
            with self._lock:
                pending = list(self._futures)
            for future in pending:
                future.result()
            if not scanned and not started and not pending:
                return

    # ------------------------------------------------------------------ background

    def _step(self) -> bool:
        """Busy (run again at once) while anything is in flight: a finished attempt frees a thread, which
        the next round fills, so a backlog drains at the pool's pace rather than the poll interval's."""
        self._freed.clear()
        scanned = self.scan()
        started = self.dispatch()
        if self.in_flight():
            self._freed.wait(self._interval)
            return True
        return bool(scanned or started)

    def _ensure_pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.limits.threads, thread_name_prefix="webhook-send")
            return self._pool

    def start(self, interval: float) -> None:
        self._interval = interval
        self._loop.start(interval)

    @property
    def leading(self) -> bool:
        return self._loop.leading

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming; attempts in flight end within their timeout (or their claims lapse)."""
        self._loop.stop(timeout)
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
