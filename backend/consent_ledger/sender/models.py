"""The sent_transactions table: one row per nonce this backend used on an account.

A row is written, with the signed transaction, before the transaction leaves the process; the
unique (account, nonce) key is what lets several processes send from one key without colliding.
`hashes` lists every version sent for the nonce (a replacement has a new hash; either may be mined).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from consent_ledger.db.base import Base, UtcDateTime

ADDRESS = 42
HASH = 66


class SentTransaction(Base):
    __tablename__ = "sent_transactions"
    __table_args__ = (UniqueConstraint("account", "nonce"),)

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(ADDRESS))
    nonce: Mapped[int] = mapped_column(BigInteger())
    purpose: Mapped[str] = mapped_column(String(16))  # relay | anchor | filler
    to_address: Mapped[str] = mapped_column(String(ADDRESS))
    data: Mapped[str] = mapped_column(Text())
    gas: Mapped[int] = mapped_column(BigInteger())
    max_fee: Mapped[str] = mapped_column(String(40))  # wei, decimal text
    priority_fee: Mapped[str] = mapped_column(String(40))
    raw: Mapped[str] = mapped_column(Text())  # the latest signed version
    tx_hash: Mapped[str] = mapped_column(String(HASH))  # its hash
    hashes: Mapped[str] = mapped_column(Text())  # JSON list of every hash sent for this nonce
    state: Mapped[str] = mapped_column(String(10), index=True)  # pending | mined | dropped
    sends: Mapped[int] = mapped_column(Integer())
    error: Mapped[str | None] = mapped_column(String(200), default=None)  # the node's last refusal
    mined_hash: Mapped[str | None] = mapped_column(String(HASH), default=None)
    block_number: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    block_hash: Mapped[str | None] = mapped_column(String(HASH), default=None)
    succeeded: Mapped[bool | None] = mapped_column(Boolean(), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime())  # the latest version's (replacement clock)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())  # the latest broadcast (re-broadcast clock)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
