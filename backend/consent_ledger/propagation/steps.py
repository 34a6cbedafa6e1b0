"""Recording propagation steps: the version-3 leaves appended to the access log and their index rows, in the
caller's transaction (the one that marks deliveries done or stores the acknowledgement).

A step is recorded once. Its leaf id is derived from the event id, the step and the acknowledgement, so a
redelivery of the same event (at-least-once delivery) or the same acknowledgement sent twice (in the 2xx
body and again through the API) finds the leaf already there and gets its index back; a different
acknowledgement of the same event ("received", then "stopped_processing") is a step of its own. The check
runs after the log head's lock is taken, so replicas recording the same step at once cannot both append.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from consent_ledger.addresses import checksum_address
from consent_ledger.audit.leaf import ACKS, EVENT_ID_SIZE, EVENT_TYPES, PropagationLeaf
from consent_ledger.audit.log import append_leaves, lock_head
from consent_ledger.errors import InputError
from consent_ledger.propagation.models import PropagationRecord

DELIVERED = "delivered"
ACKNOWLEDGED = "acknowledged"
EVENT_ID_PREFIX = "evt_"
# The namespace of propagation leaf ids (uuid5 of "<event id hex>:<step>:<ack>"): fixed forever.
LEAF_ID_NAMESPACE = uuid.UUID("6f1d3c52-93a4-4d8e-9c1b-2a7e5b0c4d11")


def event_id_header(event_id: bytes) -> str:
    """The `webhook-id` form of an event id: "evt_" + 64 lower-case hex digits."""
    return EVENT_ID_PREFIX + event_id.hex()


def parse_event_id(text: str) -> bytes:
    """The 32 bytes of an "evt_<64 hex>" event id; `InputError` for anything else."""
    body = text.removeprefix(EVENT_ID_PREFIX) if isinstance(text, str) else ""
    if not text.startswith(EVENT_ID_PREFIX) or len(body) != 2 * EVENT_ID_SIZE or body != body.lower():
        raise InputError(f"invalid event id {text!r:.80}: expected evt_ followed by 64 lower-case hex digits")
    try:
        return bytes.fromhex(body)
    except ValueError as error:
        raise InputError(f"invalid event id {text!r:.80}: expected evt_ followed by 64 hex digits") from error


def _unix(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise InputError("propagation times must be timezone-aware")
    return int(moment.timestamp())


@dataclass(frozen=True, slots=True)
class PropagationStep:
    """One step of an event's way to a brand. Build it with `delivered` or `acknowledged`."""

    step: str
    event_type: str
    event_id: bytes
    customer: str
    brand: str
    occurred_at: datetime  # the cause's time: block timestamp, erasure time
    at: datetime  # when the endpoint answered 2xx / when the acknowledgement arrived
    ack: str | None = None

    @classmethod
    def delivered(
        cls, event_type: str, event_id: bytes, customer: str, brand: str, occurred_at: datetime, at: datetime
    ) -> PropagationStep:
        return cls(DELIVERED, event_type, event_id, customer, brand, occurred_at, at)

    @classmethod
    def acknowledged(
        cls,
        event_type: str,
        event_id: bytes,
        customer: str,
        brand: str,
        occurred_at: datetime,
        at: datetime,
        ack: str,
    ) -> PropagationStep:
        return cls(ACKNOWLEDGED, event_type, event_id, customer, brand, occurred_at, at, ack)

    @property
    def leaf_id(self) -> str:
        return str(uuid.uuid5(LEAF_ID_NAMESPACE, f"{self.event_id.hex()}:{self.step}:{self.ack or ''}"))

    def leaf(self) -> PropagationLeaf:
        """The version-3 leaf; `InputError` for an unknown step, event type or acknowledgement."""
        if self.step not in (DELIVERED, ACKNOWLEDGED):
            raise InputError(f"unknown propagation step {self.step!r}: expected {DELIVERED} or {ACKNOWLEDGED}")
        if self.event_type not in EVENT_TYPES[1:]:
            raise InputError(f"unknown event type {self.event_type!r}: expected one of {', '.join(EVENT_TYPES[1:])}")
        if len(self.event_id) != EVENT_ID_SIZE:
            raise InputError(f"an event id is {EVENT_ID_SIZE} bytes, got {len(self.event_id)}")
        if self.step == ACKNOWLEDGED and self.ack not in ACKS[1:]:
            raise InputError(f"unknown acknowledgement {self.ack!r}: expected one of {', '.join(ACKS[1:])}")
        if self.step == DELIVERED and self.ack is not None:
            raise InputError("a delivered step carries no acknowledgement")
        return PropagationLeaf(
            leaf_id=self.leaf_id,
            step=self.step,
            event_type=self.event_type,
            event_id=self.event_id,
            customer=checksum_address(self.customer),
            brand=checksum_address(self.brand),
            occurred_at=_unix(self.occurred_at),
            at=_unix(self.at),
            ack=self.ack,
        )


def record_step(session: Session, step: PropagationStep) -> int:
    """Append `step`'s leaf to the access log and index it, in `session`'s open transaction (the caller
    commits); returns its leaf index. A step already recorded returns the index of its leaf, unchanged."""
    (index,) = record_steps(session, [step])
    return index


def record_steps(session: Session, steps: Sequence[PropagationStep]) -> list[int]:
    """`record_step` for several steps at once: one lock of the log head, one look-up of the leaves already
    there and one append of the new ones, in order (a step given twice is appended once); returns each
    step's leaf index."""
    if not steps:
        return []
    leaves = [step.leaf() for step in steps]
    lock_head(session)
    ids = {leaf.leaf_id for leaf in leaves}
    found = session.execute(
        select(PropagationRecord.leaf_id, PropagationRecord.leaf_index).where(PropagationRecord.leaf_id.in_(ids))
    ).all()
    known = {str(leaf_id): int(index) for leaf_id, index in found}
    new: dict[str, PropagationLeaf] = {}
    for leaf in leaves:
        if leaf.leaf_id not in known:
            new.setdefault(leaf.leaf_id, leaf)
    appended = list(new.values())
    indexes = append_leaves(session, appended)
    if appended:
        session.execute(  # the table, not the entity: the ORM would split the rows where `ack` is None
            insert(PropagationRecord.__table__),  # type: ignore[arg-type]
            [
                {
                    "leaf_index": index,
                    "leaf_id": leaf.leaf_id,
                    "event_id": leaf.event_id.hex(),
                    "step": leaf.step,
                    "event_type": leaf.event_type,
                    "customer": leaf.customer,
                    "brand": leaf.brand,
                    "occurred_at": datetime.fromtimestamp(leaf.occurred_at, UTC),
                    "at": datetime.fromtimestamp(leaf.at, UTC),
                    "ack": leaf.ack,
                }
                for leaf, index in zip(appended, indexes, strict=True)
            ],
        )
    known.update((leaf.leaf_id, index) for leaf, index in zip(appended, indexes, strict=True))
    return [known[leaf.leaf_id] for leaf in leaves]
