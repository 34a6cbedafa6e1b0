"""A brand's view of its deliveries: the attempt log per endpoint, its events with their delivery
state (both newest first, paged by keyset cursors), replay of one event or of a time range, and the
acknowledgement of an event by API. Every call names the brand and reaches only its own endpoints and
events: anything else is "not found", as an unknown id is. Each runs in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from consent_ledger.addresses import checksum_address
from consent_ledger.apimodels.webhook_events import EVENT_TYPES
from consent_ledger.db.base import BIGINT_MAX
from consent_ledger.errors import InputError, NotFoundError
from consent_ledger.propagation.steps import event_id_header, parse_event_id
from consent_ledger.webhooks.claims import ACKS
from consent_ledger.webhooks.endpoints import EndpointStore
from consent_ledger.webhooks.models import (
    PENDING,
    OutboxAttempt,
    OutboxDelivery,
    OutboxEvent,
    WebhookEndpoint,
)
from consent_ledger.webhooks.outbox import WebhookOutbox, new_delivery

MAX_PAGE = 500
MAX_REPLAY = 10_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, object]]
    next: str | None


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit is between 1 and {MAX_PAGE}")
    return limit


def event_key(event_id: str) -> str:
    """The stored key of an "evt_<64 hex>" id; `NotFoundError` for anything else (no such event)."""
    try:
        return parse_event_id(event_id).hex()
    except InputError as error:
        raise NotFoundError("no such webhook event: an event id is evt_ and 64 lower-case hex digits") from error


class DeliveryViews:
    def __init__(self, outbox: WebhookOutbox, endpoints: EndpointStore) -> None:
        self.outbox = outbox
        self.endpoints = endpoints

    # ------------------------------------------------------------------ reading

    def attempts(self, session: Session, brand: str, endpoint_id: str, cursor: str | None, limit: int) -> Page:
        """The endpoint's attempts, newest first; `cursor` is the previous page's `next`."""
        endpoint = self.endpoints.get(session, brand, endpoint_id)
        query = select(OutboxAttempt).where(OutboxAttempt.endpoint_id == endpoint.id)
        if cursor is not None:
            if not (cursor.isascii() and cursor.isdigit()) or int(cursor) > BIGINT_MAX:
                raise InputError("cursor is the `next` of the previous page")
            query = query.where(OutboxAttempt.id < int(cursor))
        rows = session.scalars(query.order_by(OutboxAttempt.id.desc()).limit(_limit(limit) + 1)).all()
        items: list[dict[str, object]] = [
            {
                "id": row.id,
                "event_id": event_id_header(bytes.fromhex(row.event_id)),
                "attempt": row.attempt,
                "at": _iso(row.at),
                "status_code": row.status_code,
                "latency_ms": row.latency_ms,
                "error": row.error,
            }
            for row in rows[:limit]
        ]
        return Page(items, str(rows[limit - 1].id) if len(rows) > limit else None)

    def events(self, session: Session, brand: str, cursor: str | None, limit: int, kind: str | None) -> Page:
        """The brand's events, newest first, each with its deliveries' state."""
        query = select(OutboxEvent).where(OutboxEvent.brand == checksum_address(brand))
        if kind is not None:
            if kind not in EVENT_TYPES:
                raise InputError(f"type is one of {', '.join(EVENT_TYPES)}")
            query = query.where(OutboxEvent.type == kind)
        if cursor is not None:
            at, key = _parse_cursor(cursor)
            query = query.where(
                or_(OutboxEvent.created_at < at, and_(OutboxEvent.created_at == at, OutboxEvent.id < key))
            )
        query = query.order_by(OutboxEvent.created_at.desc(), OutboxEvent.id.desc()).limit(_limit(limit) + 1)
        rows = session.scalars(query).all()
        shown = rows[:limit]
        states: dict[str, list[dict[str, object]]] = {row.id: [] for row in shown}
        if shown:
            deliveries = session.scalars(
                select(OutboxDelivery).where(OutboxDelivery.event_id.in_(list(states))).order_by(OutboxDelivery.id)
            )
            for d in deliveries:
                states[d.event_id].append(
                    {
                        "endpoint_id": d.endpoint_id,
                        "state": d.state,
                        "attempts": d.attempts,
                        "next_attempt_at": _iso(d.next_attempt_at) if d.state == PENDING else None,
                        "delivered_at": _iso(d.delivered_at),
                        "last_error": d.last_error,
                    }
                )
        items: list[dict[str, object]] = [
            {
                "event_id": event_id_header(bytes.fromhex(row.id)),
                "type": row.type,
                "customer": row.customer,
                "occurred_at": _iso(row.occurred_at),
                "created_at": _iso(row.created_at),
                "ack": row.ack,
                "acknowledged_at": _iso(row.acknowledged_at),
                "deliveries": states[row.id],
            }
            for row in shown
        ]
        last = shown[-1] if len(rows) > limit else None
        return Page(items, None if last is None else _cursor(last))

    # ------------------------------------------------------------------ acting

    def replay_event(self, session: Session, brand: str, event_id: str, now: datetime) -> int:
        """Send the event again, now, to each of the brand's enabled endpoints subscribed to its type."""
        event = self._event(session, brand, event_id)
        targets = self.endpoints.endpoints_for(session, brand, event.type)
        return sum(self._requeue(session, event.id, target.id, now) for target in targets)

    def replay_range(
        self, session: Session, brand: str, endpoint_id: str, since: datetime, until: datetime, now: datetime
    ) -> int:
        """Send the brand's events made in [since, until) again, now, to this endpoint (those of its types)."""
        if since.tzinfo is None or until.tzinfo is None:
            raise InputError("since and until carry a time zone (e.g. 2026-12-01T00:00:00Z)")
        try:
            since, until = since.astimezone(UTC), until.astimezone(UTC)
        except OverflowError as error:
            raise InputError("since and until lie between the years 1 and 9999 in UTC") from error
        if until <= since:
            raise InputError("until must be later than since")
        endpoint = self.endpoints.get(session, brand, endpoint_id)
        if not endpoint.enabled:
            raise InputError("the endpoint is disabled: enable it first (POST .../enable), then replay")
        where = and_(
            OutboxEvent.brand == endpoint.brand,
            OutboxEvent.created_at >= since,
            OutboxEvent.created_at < until,
            OutboxEvent.type.in_(endpoint.event_types),
        )
        count = int(session.scalar(select(func.count()).select_from(OutboxEvent).where(where)) or 0)
        if count > MAX_REPLAY:
            raise InputError(f"{count} events in that range; replay at most {MAX_REPLAY} at a time")
        ids = session.scalars(select(OutboxEvent.id).where(where).order_by(OutboxEvent.created_at)).all()
        return sum(self._requeue(session, key, endpoint.id, now) for key in ids)

    def acknowledge(self, session: Session, brand: str, event_id: str, ack: str, now: datetime) -> dict[str, object]:
        """Store the brand's acknowledgement and its access-log leaf; the same again changes nothing."""
        if ack not in ACKS:
            raise InputError(f"ack is one of {', '.join(ACKS)}")
        event = self._event(session, brand, event_id, lock=True)
        index = self.outbox.acknowledge(session, event, ack, now)
        return {
            "event_id": event_id_header(bytes.fromhex(event.id)),
            "ack": event.ack,
            "acknowledged_at": _iso(event.acknowledged_at),
            "leaf_index": index,
        }

    # ------------------------------------------------------------------ internals

    def _event(self, session: Session, brand: str, event_id: str, *, lock: bool = False) -> OutboxEvent:
        query = select(OutboxEvent).where(
            OutboxEvent.id == event_key(event_id), OutboxEvent.brand == checksum_address(brand)
        )
        event = session.scalar(query.with_for_update() if lock else query)
        if event is None:
            raise NotFoundError("you have no webhook event with this id")
        return event

    def _requeue(self, session: Session, key: str, endpoint_id: str, now: datetime) -> int:
        """Make the (event, endpoint) delivery due now with a fresh retry window; a new one if none."""
        existing = session.scalar(
            select(OutboxDelivery.id).where(OutboxDelivery.event_id == key, OutboxDelivery.endpoint_id == endpoint_id)
        )
        if existing is None:
            exists = session.get(WebhookEndpoint, endpoint_id)
            if exists is None:
                return 0
            session.add(new_delivery(key, endpoint_id, now))
            session.flush()
            return 1
        session.execute(
            update(OutboxDelivery)
            .where(OutboxDelivery.id == existing)
            .values(state=PENDING, created_at=now, next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        return 1


def _cursor(event: OutboxEvent) -> str:
    return f"{(event.created_at - EPOCH) // timedelta(microseconds=1)}.{event.id}"


def _parse_cursor(cursor: str) -> tuple[datetime, str]:
    micros, _, key = cursor.partition(".")
    if (
        not (micros.isascii() and micros.isdigit())
        or len(micros) > 18
        or len(key) != 64
        or any(c not in "0123456789abcdef" for c in key)
    ):
        raise InputError("cursor is the `next` of the previous page")
    try:
        return EPOCH + timedelta(microseconds=int(micros)), key
    except OverflowError as error:
        raise InputError("cursor is the `next` of the previous page") from error
