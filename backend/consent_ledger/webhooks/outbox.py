"""The delivery outbox: events enter it in the transaction of their cause, deliveries are claimed
atomically and finished by the claimant only.

`emit` stores an event once (its id is the primary key) for a brand with at least one enabled endpoint
subscribed to its type, and one delivery per such endpoint. `claim` takes due deliveries: on PostgreSQL
the candidates are read `FOR UPDATE SKIP LOCKED`, and on every backend each is taken by a conditional
UPDATE (still pending, lease free or lapsed) that writes a fresh claim token; so two workers never hold
one delivery, and a worker that died mid-attempt loses its claim when the lease lapses. `finish` names
the token and the pending state: a 2xx marks it delivered and records the `delivered` step leaf (and an
`acknowledged` one for an ack in the body) in the same transaction; a failure schedules the next attempt
with full-jitter exponential backoff, or marks it dead once the retry window is over, and starts or
extends the endpoint's failing streak (disabling it when the streak is too long). Each attempt is a row
of the endpoint's delivery log.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from consent_ledger.propagation.steps import PropagationStep, record_step
from consent_ledger.webhooks.endpoints import Endpoint, EndpointStore
from consent_ledger.webhooks.events import NewEvent
from consent_ledger.webhooks.models import (
    DEAD,
    DELIVERED,
    MAX_ERROR,
    PENDING,
    OutboxAttempt,
    OutboxDelivery,
    OutboxEvent,
    WebhookEndpoint,
)

ACKS = ("stopped_processing", "deleted", "received")
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


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery this worker holds until `lease_until`: what to send, where, and which attempt it is."""

    delivery_id: int
    token: str
    endpoint_id: str
    event_id: str
    event_type: str
    body: bytes
    url: str
    attempt: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt got: a status code (None when no answer came), the time, an error, an ack."""

    status: int | None
    latency_ms: int
    error: str | None = None
    ack: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


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
        made = 0
        for event, targets in wanted:
            key = event.id.hex()
            if key in known:
                continue
            known.add(key)
            session.add(
                OutboxEvent(
                    id=key,
                    brand=event.brand,
                    customer=event.customer,
                    type=event.type,
                    occurred_at=event.occurred_at,
                    created_at=now,
                    body=event.body(now),
                )
            )
            session.flush()
            for target in sorted(targets, key=lambda e: (e.created_at, e.id)):
                session.add(new_delivery(key, target.id, now))
            made += 1
        session.flush()
        return made

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
        until = now + timedelta(seconds=lease)
        claims: list[Claim] = []
        for delivery_id in chosen:
            token = str(uuid.uuid4())
            result = session.execute(
                update(OutboxDelivery)
                .where(
                    OutboxDelivery.id == delivery_id,
                    OutboxDelivery.state == PENDING,
                    or_(OutboxDelivery.lease_until.is_(None), OutboxDelivery.lease_until < now),
                )
                .values(claimed_by=token, lease_until=until)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) != 1:
                continue  # another worker took it between the read and the update
            row = session.execute(
                select(OutboxDelivery, OutboxEvent.type, OutboxEvent.body, WebhookEndpoint.url)
                .join(OutboxEvent, OutboxEvent.id == OutboxDelivery.event_id)
                .join(WebhookEndpoint, WebhookEndpoint.id == OutboxDelivery.endpoint_id)
                .where(OutboxDelivery.id == delivery_id)
            ).one()
            delivery, event_type, body, url = row
            claims.append(
                Claim(
                    delivery_id,
                    token,
                    delivery.endpoint_id,
                    delivery.event_id,
                    event_type,
                    bytes(body),
                    url,
                    delivery.attempts + 1,
                )
            )
        return claims

    # ------------------------------------------------------------------ finishing

    def finish(self, session: Session, claim: Claim, outcome: Outcome, now: datetime) -> bool:
        """Record the attempt and move the delivery on, if `claim` still holds it (False otherwise: its
        lease lapsed and another worker took it, which will deliver it again)."""
        base = and_(
            OutboxDelivery.id == claim.delivery_id,
            OutboxDelivery.claimed_by == claim.token,
            OutboxDelivery.state == PENDING,
        )
        delivery = session.scalar(select(OutboxDelivery).where(base).with_for_update())
        if delivery is None:
            return False
        error = None if outcome.error is None else outcome.error[:MAX_ERROR]
        session.add(
            OutboxAttempt(
                delivery_id=claim.delivery_id,
                endpoint_id=claim.endpoint_id,
                event_id=claim.event_id,
                attempt=delivery.attempts + 1,
                at=now,
                status_code=outcome.status,
                latency_ms=outcome.latency_ms,
                error=error,
            )
        )
        delivery.attempts += 1
        delivery.claimed_by, delivery.lease_until = None, None
        if outcome.delivered:
            delivery.state, delivery.delivered_at, delivery.last_error = DELIVERED, now, None
            event = session.get(OutboxEvent, claim.event_id)
            if event is not None:
                self._record(session, event, now, outcome.ack)
            self.endpoints.note_ok(session, claim.endpoint_id)
        else:
            delivery.last_error = error or f"HTTP {outcome.status}"
            if (now - delivery.created_at).total_seconds() >= self.policy.dead_after:
                delivery.state = DEAD
            else:
                delivery.next_attempt_at = now + timedelta(seconds=self.policy.delay(delivery.attempts))
            self._note_failure(session, claim.endpoint_id, now)
        session.flush()
        return True

    def acknowledge(self, session: Session, event: OutboxEvent, ack: str, now: datetime) -> int:
        """Store `ack` on the event and record its `acknowledged` step (once per event and ack); returns the
        step's leaf index."""
        if event.ack != ack:
            event.ack, event.acknowledged_at = ack, now
        return record_step(
            session,
            PropagationStep.acknowledged(
                event.type, bytes.fromhex(event.id), event.customer, event.brand, event.occurred_at, now, ack
            ),
        )

    def _record(self, session: Session, event: OutboxEvent, now: datetime, ack: str | None) -> None:
        record_step(
            session,
            PropagationStep.delivered(
                event.type, bytes.fromhex(event.id), event.customer, event.brand, event.occurred_at, now
            ),
        )
        if ack is not None:
            self.acknowledge(session, event, ack, now)

    def _note_failure(self, session: Session, endpoint_id: str, now: datetime) -> None:
        since = self.endpoints.note_failing(session, endpoint_id, now)
        if since is None or (now - since).total_seconds() < self.policy.disable_after:
            return
        endpoint: Endpoint | None = self.endpoints.endpoint(session, endpoint_id)
        if endpoint is not None and endpoint.enabled:
            hours = self.policy.disable_after / 3600
            reason = f"every delivery failed for {hours:g} hours (since {since.isoformat()})"
            self.endpoints.disable(session, endpoint_id, endpoint.version, reason, now)


def new_delivery(event_id: str, endpoint_id: str, now: datetime) -> OutboxDelivery:
    """A delivery of the event to the endpoint, pending and due now, with no attempt yet."""
    return OutboxDelivery(
        event_id=event_id,
        endpoint_id=endpoint_id,
        state=PENDING,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
