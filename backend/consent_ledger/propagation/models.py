"""The index of the access log's version-3 leaves: one row per propagation step (a webhook event delivered
to a brand, or acknowledged by it), written by `propagation.steps.record_step` in the transaction that
appends the leaf. The leaf is the record; this table only finds it by customer, brand, event and step."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from consent_ledger.db.base import Base, UtcDateTime

ADDRESS = 42


class PropagationRecord(Base):
    __tablename__ = "propagation_steps"

    leaf_index: Mapped[int] = mapped_column(
        BigInteger(), ForeignKey("log_leaves.index"), primary_key=True, autoincrement=False
    )
    leaf_id: Mapped[str] = mapped_column(String(36), unique=True)  # the leaf's id: one per event, step, ack
    event_id: Mapped[str] = mapped_column(String(64), index=True)  # lower-case hex of the 32 bytes
    step: Mapped[str] = mapped_column(String(16), index=True)  # "delivered" | "acknowledged"
    event_type: Mapped[str] = mapped_column(String(32))
    customer: Mapped[str] = mapped_column(String(ADDRESS), index=True)
    brand: Mapped[str] = mapped_column(String(ADDRESS), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    ack: Mapped[str | None] = mapped_column(String(24), default=None)
