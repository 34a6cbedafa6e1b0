"""Charging a brand's privacy budget, safe across replicas.

`charge` runs inside the caller's open transaction (the one that also appends the query's leaf to the
access log): it makes sure the period's row exists (INSERT ... ON CONFLICT DO NOTHING, race-free on
both backends), then adds the epsilon with one UPDATE whose WHERE clause is the check
(`spent + epsilon <= limit`). PostgreSQL locks the row until the transaction ends and re-evaluates the
condition after a concurrent charge commits, so two replicas can never both spend the last of a
budget; SQLite serialises writers. A refused charge raises and the caller rolls back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from consent_ledger.errors import RateLimitedError
from consent_ledger.insights.models import InsightBudget

MICRO = 1_000_000


def to_micro(epsilon: float) -> int:
    """Epsilon in millionths, rounded up (a charge never undercounts)."""
    return math.ceil(round(epsilon * MICRO, 3))  # round first: 1.5000000000000002 is 1.5


@dataclass(frozen=True, slots=True)
class Period:
    start: int  # unix seconds
    seconds: int

    @classmethod
    def containing(cls, now: datetime, seconds: int) -> Period:
        stamp = int(now.timestamp())
        return cls(stamp - stamp % seconds, seconds)

    @property
    def end(self) -> int:
        return self.start + self.seconds

    def iso(self, stamp: int) -> str:
        return datetime.fromtimestamp(stamp, UTC).isoformat()


class BudgetSpentError(RateLimitedError):
    """The brand's privacy budget for this period cannot pay for the query (429, Retry-After: until the
    period ends); `extensions` go into the problem+json body (remaining budget, when it renews)."""

    def __init__(self, asked_micro: int, remaining_micro: int, period: Period, now: int) -> None:
        self.extensions = {
            "epsilon_asked": asked_micro / MICRO,
            "epsilon_remaining": remaining_micro / MICRO,
            "period_start": period.iso(period.start),
            "period_end": period.iso(period.end),
        }
        RateLimitedError.__init__(
            self,
            f"this query needs epsilon {asked_micro / MICRO:g} but only {remaining_micro / MICRO:g} of your privacy "
            f"budget is left until {period.iso(period.end)}: ask with a smaller epsilon or wait for the next period",
            max(period.end - now, 1),
        )


def spent(session: Session, brand: str, period: Period) -> int:
    value = session.scalar(
        select(InsightBudget.spent_micro).where(InsightBudget.brand == brand, InsightBudget.period == period.start)
    )
    return int(value or 0)


def charge(session: Session, brand: str, period: Period, epsilon_micro: int, limit_micro: int, now: int) -> int:
    """Add `epsilon_micro` to the brand's spending in `period` if it stays within `limit_micro`; returns what is
    left after the charge. `BudgetSpentError` otherwise (the caller's transaction must then roll back)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(InsightBudget)
        .values(brand=brand, period=period.start, spent_micro=0)
        .on_conflict_do_nothing(index_elements=["brand", "period"])
    )
    charged = session.execute(
        update(InsightBudget)
        .where(
            InsightBudget.brand == brand,
            InsightBudget.period == period.start,
            InsightBudget.spent_micro + epsilon_micro <= limit_micro,
        )
        .values(spent_micro=InsightBudget.spent_micro + epsilon_micro)
        .returning(InsightBudget.spent_micro)
        .execution_options(synchronize_session=False)
    ).first()
    if charged is None:
        raise BudgetSpentError(epsilon_micro, max(limit_micro - spent(session, brand, period), 0), period, now)
    return limit_micro - int(charged[0])
