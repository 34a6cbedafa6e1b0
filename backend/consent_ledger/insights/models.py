"""The privacy budget's table: one row per brand and budget period, holding the epsilon spent in it
(in millionths, so sums are exact). Charged only by `insights.budget.charge`, in the query's
transaction, by a compare-and-set UPDATE."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from consent_ledger.db.base import Base

ADDRESS = 42


class InsightBudget(Base):
    __tablename__ = "insight_budgets"

    brand: Mapped[str] = mapped_column(String(ADDRESS), primary_key=True)
    period: Mapped[int] = mapped_column(BigInteger(), primary_key=True, autoincrement=False)  # unix start
    spent_micro: Mapped[int] = mapped_column(BigInteger())
