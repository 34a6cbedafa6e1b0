"""The delivery outbox: events enter it in the transaction of their cause, deliveries are claimed
atomically and finished by the claimant only.

`emit` stores an event once (its id is the primary key) for a brand with at least one enabled endpoint
subscribed to its type, and one delivery per such endpoint. `claim` takes due deliveries: on PostgreSQL the
candidates are read `FOR UPDATE SKIP LOCKED`, and on every backend the chosen ones are taken by one
conditional UPDATE (still pending, lease free or lapsed) that writes the round's fresh claim token; so two
workers never hold one delivery, and a worker that died mid-attempt loses its claim when the lease lapses.
`finish_many` finishes attempts in one transaction, each naming its delivery, the token and the pending state:
a 2xx marks it delivered and records the `delivered` step leaf (and an `acknowledged` one for an ack in the
body) in that transaction, the leaves of all the attempts in one append of the access log; a failure schedules
the next attempt with full-jitter exponential backoff, or marks it dead once the retry window is over, and
starts or extends the endpoint's failing streak (disabling it when the streak is too long). Each attempt is a
row of the endpoint's delivery log. The statements for the deliveries' new states and the step leaves are in
webhooks/finished.py; the attempt's types in webhooks/claims.py.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from consent_ledger.propagation.steps import record_steps
from consent_ledger.webhooks.claims import Claim, Finished, Outcome
from consent_ledger.webhooks.endpoints import Endpoint, EndpointStore
from consent_ledger.webhooks.events import NewEvent
from consent_ledger.webhooks.finished import acknowledged_step, mark_delivered, record_told, schedule_retries
from consent_ledger.webhooks.models import (
    DEAD,
    MAX_ERROR,
    PENDING,
    OutboxAttempt,
    OutboxDelivery,
    OutboxEvent,
    WebhookEndpoint,
)

CANDIDATES = 200  # rows read per claim, of which at most the per-endpoint cap per endpoint are taken


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base: float  # seconds: the first retry comes within this
    cap: float  # the longest wait between two attempts
    dead_after: float  # seconds after the event was made: no more attempts
    disable_after: float  # seconds of failing without a success: the endpoint is disabled

    def delay(self, failures: int, rng: Callable[[float, float], float] = random.uniform) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^(failures-1))]."""
        ceiling = min(self.cap, self.base * 2 ** min(max(failures - 1, 0), 62))
        return rng(0.0, ceiling)


class WebhookOutbox:
    def __init__(self, endpoints: EndpointStore, policy: RetryPolicy) -> None:
        self.endpoints = endpoints
        self.policy = policy

    # ------------------------------------------------------------------ emitting

    def emit(self, session: Session, events: Sequence[NewEvent], now: datetime) -> int:
        """Store each event not stored yet, with a delivery per enabled endpoint of its brand subscribed to
        its type (an event no endpoint wants is not stored). Runs in the caller's transaction; returns how
        many events were new."""
        if not events:
            return 0
        brands = {event.brand for event in events}
        rows = session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.brand.in_(brands), WebhookEndpoint.disabled_at.is_(None))
        )
        by_brand: dict[str, list[WebhookEndpoint]] = {}
        for row in rows:
            by_brand.setdefault(row.brand, []).append(row)
        wanted = [
            (event, [e for e in by_brand.get(event.brand, []) if event.type in e.event_types.split()])
            for event in events
        ]
        wanted = [(event, targets) for event, targets in wanted if targets]
        if not wanted:
            return 0
        ids = [event.id.hex() for event, _ in wanted]
        known = set(session.scalars(select(OutboxEvent.id).where(OutboxEvent.id.in_(ids))))
        stored: list[dict[str, object]] = []
        deliveries: list[dict[str, object]] = []
        for event, targets in wanted:
            key = event.id.hex()
            if key in known:
                continue
            known.add(key)
            stored.append(
                {
                    "id": key,
                    "brand": event.brand,
                    "customer": event.customer,
                    "type": event.type,
                    "occurred_at": event.occurred_at,
                    "created_at": now,
                    "body": event.body(now),
                }
            )
            deliveries.extend(delivery_row(key, t.id, now) for t in sorted(targets, key=lambda e: (e.created_at, e.id)))
        if stored:  # the events first: their deliveries refer to them
            session.flush()  # what the caller added (its cause) goes first too
            session.execute(insert(OutboxEvent.__table__), stored)  # type: ignore[arg-type]
            session.execute(insert(OutboxDelivery.__table__), deliveries)  # type: ignore[arg-type]
        return len(stored)

    # ------------------------------------------------------------------ claiming

    def claim(
        self,
        session: Session,
        now: datetime,
        limit: int,
        busy: Mapping[str, int],
        per_endpoint: int,
        lease: float,
    ) -> list[Claim]:
        """Up to `limit` due deliveries to enabled endpoints, at most `per_endpoint` per endpoint counting
        the `busy` ones this worker already has in flight; each now held under a new token until
        now + `lease` seconds. Commit the session to publish the claims."""
        if limit <= 0:
            return []
        full = [endpoint for endpoint, count in busy.items() if count >= per_endpoint]
        query = (
            select(OutboxDelivery.id, OutboxDelivery.endpoint_id)
            .join(WebhookEndpoint, WebhookEndpoint.id == OutboxDelivery.endpoint_id)
            .where(
                OutboxDelivery.state == PENDING,
                OutboxDelivery.next_attempt_at <= now,
                or_(OutboxDelivery.lease_until.is_(None), OutboxDelivery.lease_until < now),
                WebhookEndpoint.disabled_at.is_(None),
            )
            .order_by(OutboxDelivery.next_attempt_at, OutboxDelivery.id)
            .limit(CANDIDATES)
        )
        if full:
            query = query.where(OutboxDelivery.endpoint_id.not_in(full))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=OutboxDelivery)
        taken: dict[str, int] = dict(busy)
        chosen: list[int] = []
        for delivery_id, endpoint_id in session.execute(query):
            if len(chosen) >= limit:
                break
            if taken.get(endpoint_id, 0) >= per_endpoint:
                continue
            taken[endpoint_id] = taken.get(endpoint_id, 0) + 1
            chosen.append(delivery_id)
        if not chosen:
            return []
        token = str(uuid.uuid4())
        session.execute(
            update(OutboxDelivery)
            .where(
                OutboxDelivery.id.in_(chosen),
                OutboxDelivery.state == PENDING,
                or_(OutboxDelivery.lease_until.is_(None), OutboxDelivery.lease_until < now),
            )
            .values(claimed_by=token, lease_until=now + timedelta(seconds=lease))
            .execution_options(synchronize_session=False)
        )
        taken_rows = session.execute(
            select(
                OutboxDelivery.id,
                OutboxDelivery.endpoint_id,
                OutboxDelivery.event_id,
                OutboxDelivery.attempts,
                OutboxEvent.type,
                OutboxEvent.body,
                WebhookEndpoint.url,
            )
            .join(OutboxEvent, OutboxEvent.id == OutboxDelivery.event_id)
            .join(WebhookEndpoint, WebhookEndpoint.id == OutboxDelivery.endpoint_id)
            .where(OutboxDelivery.id.in_(chosen), OutboxDelivery.claimed_by == token)
        ).all()
        by_id = {row.id: row for row in taken_rows}  # a row missing: another worker took it meanwhile
        return [
            Claim(
                row.id,
                token,
                row.endpoint_id,
                row.event_id,
                row.type,
                bytes(row.body),
                row.url,
                row.attempts + 1,
            )
            for row in (by_id[delivery_id] for delivery_id in chosen if delivery_id in by_id)
        ]

    # ------------------------------------------------------------------ finishing

    def finish(self, session: Session, claim: Claim, outcome: Outcome, now: datetime) -> bool:
        """`finish_many` of one attempt."""
        (done,) = self.finish_many(session, [Finished(claim, outcome, now)])
        return done

    def finish_many(self, session: Session, finished: Sequence[Finished]) -> list[bool]:
        """Record each attempt and move its delivery on, in `session`'s one transaction, if the claim still
        holds it (False for one that does not: its lease lapsed and another worker took it, which will
        deliver it again). The deliveries are locked in one read; the attempts are inserted together, the
        delivered ones updated by one statement, and the `delivered` and `acknowledged` leaves of all the
        2xx answers appended together, in the order given."""
        if not finished:
            return []
        ids = sorted({item.claim.delivery_id for item in finished})
        held = {
            row.id: row
            for row in session.execute(
                select(
                    OutboxDelivery.id,
                    OutboxDelivery.claimed_by,
                    OutboxDelivery.attempts,
                    OutboxDelivery.created_at,
                    OutboxDelivery.next_attempt_at,
                )
                .where(OutboxDelivery.id.in_(ids), OutboxDelivery.state == PENDING)
                .order_by(OutboxDelivery.id)
                .with_for_update()
            )
        }
        done: list[bool] = []
        attempts: list[dict[str, object]] = []
        delivered: list[Finished] = []
        failed: list[dict[str, object]] = []
        streaks: dict[str, list[tuple[bool, datetime, datetime]]] = {}  # per endpoint: runs (ok, first, last)
        for item in finished:
            row = held.pop(item.claim.delivery_id, None)  # popped: a second outcome for it in this batch is stale
            if row is None or row.claimed_by != item.claim.token:
                done.append(False)
                continue
            done.append(True)
            outcome, now = item.outcome, item.at
            error = None if outcome.error is None else outcome.error[:MAX_ERROR]
            attempts.append(
                {
                    "delivery_id": row.id,
                    "endpoint_id": item.claim.endpoint_id,
                    "event_id": item.claim.event_id,
                    "attempt": row.attempts + 1,
                    "at": now,
                    "status_code": outcome.status,
                    "latency_ms": outcome.latency_ms,
                    "error": error,
                }
            )
            if outcome.delivered:
                delivered.append(item)
            else:
                dead = (now - row.created_at).total_seconds() >= self.policy.dead_after
                failed.append(
                    {
                        "b_id": row.id,
                        "state": DEAD if dead else PENDING,
                        "attempts": row.attempts + 1,
                        "next_attempt_at": row.next_attempt_at
                        if dead
                        else now + timedelta(seconds=self.policy.delay(row.attempts + 1)),
                        "last_error": error or f"HTTP {outcome.status}",
                    }
                )
            runs = streaks.setdefault(item.claim.endpoint_id, [])
            if runs and runs[-1][0] == outcome.delivered:
                runs[-1] = (outcome.delivered, runs[-1][1], now)
            else:
                runs.append((outcome.delivered, now, now))
        if attempts:
            session.execute(insert(OutboxAttempt.__table__), attempts)  # type: ignore[arg-type]
        mark_delivered(session, delivered)
        schedule_retries(session, failed)
        record_told(session, delivered)
        self._note_streaks(session, streaks)
        return done

    def _note_streaks(self, session: Session, streaks: dict[str, list[tuple[bool, datetime, datetime]]]) -> None:
        """Each endpoint's runs of successes and failures (ok, first, last), applied as one call per attempt in
        order would; the endpoints that only succeeded in one statement."""
        only_ok = sorted(endpoint_id for endpoint_id, runs in streaks.items() if [r[0] for r in runs] == [True])
        self.endpoints.note_ok(session, *only_ok)
        for endpoint_id, runs in streaks.items():
            if endpoint_id in only_ok:
                continue
            for ok, first, last in runs:
                if ok:
                    self.endpoints.note_ok(session, endpoint_id)
                else:
                    self._note_failure(session, endpoint_id, first, last)

    def acknowledge(self, session: Session, event: OutboxEvent, ack: str, now: datetime) -> int:
        """Store `ack` on the event and record its `acknowledged` step (once per event and ack); returns the
        step's leaf index."""
        (index,) = record_steps(session, [acknowledged_step(event, ack, now)])
        return index

    def _note_failure(self, session: Session, endpoint_id: str, first: datetime, now: datetime) -> None:
        """Failures from `first` to `now` (one run, no success between): start the streak at `first` if none
        runs, and disable the endpoint when the streak has lasted too long by `now`."""
        since = self.endpoints.note_failing(session, endpoint_id, first)
        if since is None or (now - since).total_seconds() < self.policy.disable_after:
            return
        endpoint: Endpoint | None = self.endpoints.endpoint(session, endpoint_id)
        if endpoint is not None and endpoint.enabled:
            hours = self.policy.disable_after / 3600
            reason = f"every delivery failed for {hours:g} hours (since {since.isoformat()})"
            self.endpoints.disable(session, endpoint_id, endpoint.version, reason, now)


def new_delivery(event_id: str, endpoint_id: str, now: datetime) -> OutboxDelivery:
    """A delivery of the event to the endpoint, pending and due now, with no attempt yet."""
    return OutboxDelivery(**delivery_row(event_id, endpoint_id, now))


def delivery_row(event_id: str, endpoint_id: str, now: datetime) -> dict[str, Any]:
    """The columns of `new_delivery` (for inserting many at once)."""
    return {
        "event_id": event_id,
        "endpoint_id": endpoint_id,
        "state": PENDING,
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }
