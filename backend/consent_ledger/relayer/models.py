"""The outbox table: every accepted signed message, written before the API answers 202.

At most one live (not rejected) row per (customer, brand, nonce): the contract accepts exactly one
message per nonce of a pair, so this key makes submission idempotent. A rejection leaves the pair's
nonce where it was on-chain, so a rejected row no longer holds the nonce: the customer can sign
another message with it. Status moves accepted -> submitted -> confirmed,
or to rejected with a reason; `attempts` and `next_attempt_at` drive retries with backoff.

A worker claims accepted rows (`claimed_by` until `claimed_until`) before it looks at them;
`tx_id` names the recorded transaction (sent_transactions) that carries a submitted row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from consent_ledger.db.base import Base, UtcDateTime

ADDRESS = 42
HASH = 66


class OutboxItem(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "uq_outbox_live_nonce",
            "customer",
            "brand",
            "nonce",
            unique=True,
            sqlite_where=text("status <> 'rejected'"),
            postgresql_where=text("status <> 'rejected'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))  # grant | revoke
    customer: Mapped[str] = mapped_column(String(ADDRESS), index=True)
    brand: Mapped[str] = mapped_column(String(ADDRESS))
    nonce: Mapped[str] = mapped_column(String(78))  # uint256 as decimal text
    message: Mapped[str] = mapped_column(Text())  # the signed EIP-712 message, canonical JSON
    signature: Mapped[str] = mapped_column(String(4096))  # hex; EIP-1271 signatures may be long
    status: Mapped[str] = mapped_column(String(12), index=True)
    reason: Mapped[str | None] = mapped_column(String(200), default=None)
    attempts: Mapped[int] = mapped_column(Integer(), default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(200), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    tx_id: Mapped[int | None] = mapped_column(Integer(), index=True, default=None)
    tx_hash: Mapped[str | None] = mapped_column(String(HASH), default=None)
    block_number: Mapped[int | None] = mapped_column(Integer(), default=None)
    block_hash: Mapped[str | None] = mapped_column(String(HASH), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
