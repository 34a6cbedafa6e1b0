"""The webhook worker: one leader (lease "webhooks") turns chain events and expiries into outbox events
and sends due deliveries from a small pool of sender threads.

Three kinds of thread share the work. The leader's loop scans (webhooks.emitter) and claims due deliveries
for the room left, the endpoints' signing secrets read in the same transaction; it claims again when few
claims are left or some were finished. Claims wait in memory, per endpoint, for a sender. Senders only
sign and POST (webhooks.delivery, over kept-alive connections) and hand the outcome back. A finisher
finishes all the outcomes handed back since its last round in ONE transaction
(`WebhookOutbox.finish_many`: each attempt's row, its delivery's new state and the `delivered` leaves,
written together with one append of the access log), while the senders go on sending. At most
`per_endpoint` attempts to any one endpoint run at once, so an endpoint that hangs until the timeout or
answers with megabytes holds at most that many threads while every other endpoint's deliveries go on.

A claim is leased for longer than an attempt can take; a claim that waited so long that its attempt
could outlast the lease is not sent (it lapses and is claimed again). A leader that dies after an
attempt and before the transaction that finishes it leaves claims that lapse and are sent again
(at-least-once: receivers deduplicate by webhook-id). When that one transaction fails, each attempt is
finished in a transaction of its own, so one bad row cannot hold back the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.db.base import utc_now
from consent_ledger.errors import LedgerError
from consent_ledger.propagation.steps import event_id_header
from consent_ledger.redaction import redact_text
from consent_ledger.webhooks.claims import Claim, Finished, Outcome
from consent_ledger.webhooks.delivery import Resolve, Sender
from consent_ledger.webhooks.emitter import Emitter
from consent_ledger.webhooks.outbox import WebhookOutbox
from consent_ledger.webhooks.signing import SigningKey, signature_headers
from consent_ledger.workers import BackgroundLoop, Guard

log = logging.getLogger(__name__)

QUEUED_PER_SENDER = 32  # claims held (waiting, in flight or not finished) per sender thread; per endpoint per cap


@dataclass(frozen=True, slots=True)
class DeliveryLimits:
    threads: int
    per_endpoint: int
    connect_timeout: float
    total_timeout: float
    allow_private: bool

    @property
    def attempt_s(self) -> float:
        """The longest one attempt can take."""
        return self.total_timeout + self.connect_timeout

    @property
    def lease(self) -> float:
        """How long a claim is held: twice the longest attempt, and some (a claim of a leader that died
        mid-attempt is taken again after this)."""
        return 2 * self.attempt_s + 5.0

    @property
    def held(self) -> int:
        """Claims held at once (waiting, in flight, or made and not finished yet)."""
        return self.threads * QUEUED_PER_SENDER

    @property
    def held_per_endpoint(self) -> int:
        return self.per_endpoint * QUEUED_PER_SENDER


@dataclass(frozen=True, slots=True)
class _Job:
    claim: Claim
    secrets: tuple[str, ...]
    send_by: datetime  # later than this its attempt could outlast the lease: not sent


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
        self._changed = threading.Condition()  # guards everything below; notified on every change
        self._waiting: OrderedDict[str, deque[_Job]] = OrderedDict()  # per endpoint, in claim order
        self._running: dict[str, int] = {}
        self._made: list[Finished] = []  # attempts made, not finished yet
        self._finishing = 0  # finishes under way
        self._senders: list[threading.Thread] = []
        self._sender: Sender | None = None
        self._generation = 0  # senders of an older generation (before a stop) end after their attempt
        # On SQLite the leader's own transactions (scan, claim, finish) take turns: a writer waiting for
        # SQLite's write lock sleeps in growing steps, far longer than waiting here. PostgreSQL lets them
        # overlap (the claim skips the rows a finish has locked).
        self._writing = threading.Lock()
        self._room = threading.Event()  # set when claims were finished or few wait: the leader claims more
        self._low = limits.held // 4  # "few": at most this many waiting or in flight
        self._interval = 0.2
        self._last_scan = 0.0  # monotonic time of the leader's last scan
        self._scanned = False  # whether it found anything (then the next round scans again at once)
        self._loop = BackgroundLoop("webhooks", self._step, guard)

    # ------------------------------------------------------------------ one round

    def scan(self) -> int:
        """Turn new chain events and passed expiries into outbox events (one batch)."""
        with self.sessions.begin() as session, self._turn(session):
            return self.emitter.scan(session)

    def dispatch(self, due_by: datetime | None = None) -> int:
        """Claim deliveries due by `due_by` (default: now) for the room left and queue them for the senders;
        returns how many."""
        self._ensure_senders()
        now = self._clock() if due_by is None else due_by
        with self._changed:
            self._drop_late(now)
            held = self._held()
            room = self.limits.held - len(self._made) - sum(held.values())
        if room <= 0:
            return 0
        lease = self.limits.lease
        with self.sessions.begin() as session, self._turn(session):
            claims = self.outbox.claim(session, now, room, held, self.limits.held_per_endpoint, lease)
            secrets = self.outbox.endpoints.signing_secrets_of(session, {c.endpoint_id for c in claims}, now)
        send_by = now + timedelta(seconds=lease - self.limits.attempt_s - 1.0)
        with self._changed:
            for claim in claims:
                job = _Job(claim, tuple(secrets.get(claim.endpoint_id, ())), send_by)
                self._waiting.setdefault(claim.endpoint_id, deque()).append(job)
            if claims:
                self._changed.notify_all()
        return len(claims)

    def finish(self) -> int:
        """Finish every attempt made so far in one transaction; returns how many were finished."""
        with self._changed:
            made, self._made = self._made, []
            if not made:
                return 0
            self._finishing += 1
        try:
            self._finish(made)
        finally:
            with self._changed:
                self._finishing -= 1
                self._changed.notify_all()
        return len(made)

    def _finish(self, made: list[Finished]) -> None:
        try:
            with self.sessions.begin() as session, self._turn(session):
                self.outbox.finish_many(session, made)
        except Exception as error:  # finish them one by one: one bad row must not hold the rest back
            log.warning(  # the type only: a database error's text carries the rows' values
                "webhooks: finishing %d attempts together failed (%s); one by one", len(made), type(error).__name__
            )
            for item in made:
                try:
                    with self.sessions.begin() as session, self._turn(session):
                        self.outbox.finish_many(session, [item])
                except Exception:  # the claim lapses and the delivery is sent again
                    log.exception("webhooks: finishing delivery %d failed", item.claim.delivery_id)

    def _turn(self, session: Session) -> AbstractContextManager[object]:
        """The leader's turn to write, on SQLite (see `_writing`); no wait elsewhere."""
        return self._writing if session.get_bind().dialect.name == "sqlite" else nullcontext()

    def _drop_late(self, now: datetime) -> None:
        """Forget the waiting claims that could no longer be sent within their lease (they lapse and are
        claimed again), so an endpoint that hangs does not keep the room they take (holding the condition)."""
        for endpoint_id in list(self._waiting):
            jobs = self._waiting[endpoint_id]
            while jobs and jobs[0].send_by < now:
                jobs.popleft()
            if not jobs:
                del self._waiting[endpoint_id]

    def _held(self) -> dict[str, int]:
        """Claims waiting or in flight, per endpoint (call holding the condition)."""
        held = dict(self._running)
        for endpoint_id, jobs in self._waiting.items():
            held[endpoint_id] = held.get(endpoint_id, 0) + len(jobs)
        return held

    # ------------------------------------------------------------------ senders

    def _next_job(self) -> _Job | None:
        """The first waiting job of the endpoint least recently served that has room (holding the condition)."""
        for endpoint_id, jobs in self._waiting.items():
            if self._running.get(endpoint_id, 0) < self.limits.per_endpoint:
                job = jobs.popleft()
                if jobs:
                    self._waiting.move_to_end(endpoint_id)
                else:
                    del self._waiting[endpoint_id]
                self._running[endpoint_id] = self._running.get(endpoint_id, 0) + 1
                return job
        return None

    def _serve(self, sender: Sender, generation: int) -> None:
        while True:
            with self._changed:
                job = None
                while job is None and generation == self._generation:
                    job = self._next_job()
                    if job is None:
                        self._changed.wait()
                if job is None:
                    return
            made: Finished | None = None
            try:
                if self._clock() <= job.send_by:
                    outcome = self._send(sender, job)
                    made = Finished(job.claim, outcome, self._clock())
                else:
                    log.info("webhooks: delivery %d waited too long; its claim lapses", job.claim.delivery_id)
            except Exception:  # the claim lapses and the delivery is sent again
                log.exception("webhooks: delivery %d failed unexpectedly", job.claim.delivery_id)
            with self._changed:
                endpoint_id = job.claim.endpoint_id
                left = self._running.get(endpoint_id, 0) - 1
                if left > 0:
                    self._running[endpoint_id] = left
                else:
                    self._running.pop(endpoint_id, None)
                if made is not None:
                    self._made.append(made)
                if sum(self._running.values()) + sum(len(jobs) for jobs in self._waiting.values()) <= self._low:
                    self._room.set()  # claim more before the senders run dry
                self._changed.notify_all()

    def _send(self, sender: Sender, job: _Job) -> Outcome:
        claim = job.claim
        if not job.secrets:
            return Outcome(None, 0, "the endpoint has no valid signing secret")
        webhook_id = event_id_header(bytes.fromhex(claim.event_id))
        headers = signature_headers(webhook_id, int(self._clock().timestamp()), claim.body, job.secrets, self.key)
        outcome = sender.attempt(claim.url, claim.body, headers)
        if not outcome.delivered:
            log.info(
                "webhooks: attempt %d of %s failed: %s", claim.attempt, webhook_id, redact_text(outcome.error or "")
            )
        return outcome

    def _ensure_senders(self) -> None:
        with self._changed:
            if self._senders:
                return
            self._sender = sender = Sender(
                allow_private=self.limits.allow_private,
                connect_timeout=self.limits.connect_timeout,
                total_timeout=self.limits.total_timeout,
                resolve=self._resolve,
            )
            for n in range(self.limits.threads):
                thread = threading.Thread(
                    target=self._serve, args=(sender, self._generation), name=f"webhook-send-{n}", daemon=True
                )
                thread.start()
                self._senders.append(thread)
            finisher = threading.Thread(
                target=self._finish_all, args=(self._generation,), name="webhook-finish", daemon=True
            )
            finisher.start()
            self._senders.append(finisher)

    def _finish_all(self, generation: int) -> None:
        """Finish attempts as they are made, while the senders go on: each round takes all made meanwhile."""
        while True:
            with self._changed:
                while not self._made and generation == self._generation:
                    self._changed.wait()
                if generation != self._generation:
                    return
            self.finish()
            self._room.set()

    def in_flight(self) -> int:
        """Claims waiting for a sender or being sent."""
        with self._changed:
            return sum(self._held().values())

    def drain(self, rounds: int = 10_000) -> None:
        """Scan and deliver until nothing is left that was due by the last scan that made events, waiting or in
        flight (for tests and commands; a retry that comes due meanwhile is left to the next drain)."""
        due_by = self._clock()
        for _ in range(rounds):
            scanned = self.scan()
            if scanned:
                due_by = self._clock()
            started = self.dispatch(due_by)
            with self._changed:
                while self._held() or self._finishing:
                    self._changed.wait()
            self.finish()
            if not scanned and not started:
                return

    # ------------------------------------------------------------------ background

    def _step(self) -> bool:
        """Busy (run again at once) while anything is held. Finishing runs on its own thread; the round waits
        until claims were finished or the senders are about to run dry (or a poll interval passes), so a
        backlog drains at the senders' pace with few claim transactions. It scans again at once after a scan
        that found something, else once per poll interval."""
        self._room.clear()
        scanned = 0
        if self._scanned or time.monotonic() - self._last_scan >= self._interval:  # a backlog, or time to look
            self._last_scan = time.monotonic()
            try:
                scanned = self.scan()
            except LedgerError as error:  # the node did not answer: deliveries already made still go out
                log.warning("webhooks: scan failed (will retry): %s", redact_text(str(error)))
            self._scanned = scanned > 0
        started = self.dispatch()
        with self._changed:
            busy = bool(self._held() or self._made)
        if busy:
            self._room.wait(self._interval)
        return busy or bool(scanned or started)

    def start(self, interval: float) -> None:
        self._interval = interval
        self._loop.start(interval)

    @property
    def leading(self) -> bool:
        return self._loop.leading

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming and finish the attempts already made; attempts in flight end within their timeout
        (their claims, and those still waiting, lapse and are sent again)."""
        self._loop.stop(timeout)
        with self._changed:
            self._generation += 1
            self._waiting.clear()
            self._senders = []
            sender, self._sender = self._sender, None
            self._changed.notify_all()
        try:
            self.finish()
        except Exception:  # their claims lapse
            log.exception("webhooks: finishing the last attempts failed")
        if sender is not None:
            sender.connections.close()  # the idle ones; one in use is closed by its attempt
