"""What finishing attempts writes besides the attempt rows (webhooks.outbox.finish_many calls these in its
one transaction): the delivered deliveries marked in one statement, the failed ones rescheduled or dead, and
the `delivered` and `acknowledged` step leaves of the 2xx answers appended to the access log in one go."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.orm import Session

from consent_ledger.db.base import UtcDateTime
from consent_ledger.propagation.steps import PropagationStep, record_steps
from consent_ledger.webhooks.claims import Finished
from consent_ledger.webhooks.models import DELIVERED, OutboxDelivery, OutboxEvent


def mark_delivered(session: Session, delivered: Sequence[Finished]) -> None:
    """Mark the deliveries delivered (each at its attempt's end), in one statement."""
    if not delivered:
        return
    at = {item.claim.delivery_id: bindparam(None, item.at, type_=UtcDateTime()) for item in delivered}
    session.execute(
        update(OutboxDelivery)
        .where(OutboxDelivery.id.in_(list(at)))
        .values(
            state=DELIVERED,
            attempts=OutboxDelivery.attempts + 1,
            claimed_by=None,
            lease_until=None,
            delivered_at=case(at, value=OutboxDelivery.id),
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )


def schedule_retries(session: Session, failed: Sequence[dict[str, object]]) -> None:
    """The failed attempts' deliveries: the next attempt scheduled, or dead (the claim let go)."""
    if not failed:
        return
    table = OutboxDelivery.__table__
    session.execute(
        update(table)  # type: ignore[arg-type]
        .where(table.c.id == bindparam("b_id"))
        .values(
            state=bindparam("state"),
            attempts=bindparam("attempts"),
            next_attempt_at=bindparam("next_attempt_at"),
            last_error=bindparam("last_error"),
            claimed_by=None,
            lease_until=None,
        ),
        list(failed),
    )


def acknowledged_step(event: OutboxEvent, ack: str, now: datetime) -> PropagationStep:
    if event.ack != ack:
        event.ack, event.acknowledged_at = ack, now
    return PropagationStep.acknowledged(
        event.type, bytes.fromhex(event.id), event.customer, event.brand, event.occurred_at, now, ack
    )


def record_told(session: Session, delivered: Sequence[Finished]) -> None:
    """The `delivered` step of each delivered attempt (and its `acknowledged` step and the event's ack for
    an ack in the answer), the steps in one append."""
    if not delivered:
        return
    wanted = {item.claim.event_id for item in delivered}
    events = {
        row.id: row
        for row in session.execute(
            select(
                OutboxEvent.id,
                OutboxEvent.type,
                OutboxEvent.customer,
                OutboxEvent.brand,
                OutboxEvent.occurred_at,
                OutboxEvent.ack,
            ).where(OutboxEvent.id.in_(wanted))
        )
    }
    steps: list[PropagationStep] = []
    holding = {key: row.ack for key, row in events.items()}
    changed: dict[str, tuple[str, datetime]] = {}  # event id -> its last new ack and when, as one by one
    for item in delivered:
        event = events.get(item.claim.event_id)
        if event is None:
            continue
        event_id = bytes.fromhex(event.id)
        steps.append(
            PropagationStep.delivered(event.type, event_id, event.customer, event.brand, event.occurred_at, item.at)
        )
        ack = item.outcome.ack
        if ack is not None:
            steps.append(
                PropagationStep.acknowledged(
                    event.type, event_id, event.customer, event.brand, event.occurred_at, item.at, ack
                )
            )
            if holding[event.id] != ack:
                holding[event.id] = ack
                changed[event.id] = (ack, item.at)
    acks: dict[str, dict[str, datetime]] = {}
    for key, (ack, at) in changed.items():
        acks.setdefault(ack, {})[key] = at
    for ack, when in acks.items():
        session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id.in_(list(when)))
            .values(
                ack=ack,
                acknowledged_at=case(
                    {key: bindparam(None, at, type_=UtcDateTime()) for key, at in when.items()},
                    value=OutboxEvent.id,
                ),
            )
            .execution_options(synchronize_session=False)
        )
    record_steps(session, steps)
