"""Which outbox rows a transition may touch: every transition names the state it expects
(compare-and-set), so a row another worker moved meanwhile is left alone, never overwritten."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_

from consent_ledger.relayer.items import Status
from consent_ledger.relayer.models import OutboxItem

CLAIM_FOR = timedelta(seconds=60)  # a claim a dead worker left behind lapses after this
ANY_TX = -1


@dataclass(frozen=True, slots=True)
class Expect:
    """The state a transition expects a row to be in: its status, and optionally its transaction
    (`ANY_TX`: whichever) and the worker holding its claim."""

    status: Status
    tx_id: int | None = ANY_TX
    holder: str | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        clauses = [OutboxItem.status == self.status.value]
        if self.tx_id is None:
            clauses.append(OutboxItem.tx_id.is_(None))
        elif self.tx_id != ANY_TX:
            clauses.append(OutboxItem.tx_id == self.tx_id)
        if self.holder is not None:
            clauses.append(OutboxItem.claimed_by == self.holder)
        return clauses


def due(now: datetime) -> list[ColumnElement[bool]]:
    """Accepted, its time come, and not claimed (or its claim lapsed)."""
    return [
        OutboxItem.status == Status.ACCEPTED.value,
        OutboxItem.next_attempt_at <= now,
        or_(OutboxItem.claimed_until.is_(None), OutboxItem.claimed_until < now),
    ]


def backoff(attempts: int, max_backoff: float) -> timedelta:
    return timedelta(seconds=min(2.0 ** max(attempts - 1, 0), max_backoff))
