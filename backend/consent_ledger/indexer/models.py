"""The indexer's tables: `chain_events` (one row per contract log on the canonical chain, decoded)
and `indexer_cursor` (the last block indexed, by number and hash).

Uniqueness is on (block_number, log_index), not (block_hash, log_index): the table holds ONE
history at a time. A reorg deletes every row above the fork point before the new branch's rows
are inserted (same transaction), so a position is never taken twice; if a bug ever left rows of
an orphaned block behind, inserting the canonical block would fail loudly instead of silently
keeping two histories side by side. The constraint's index (block_number first) also serves
range scans by block, so block_number needs no index of its own.

Rows are only ever appended above the highest indexed block, in chain order, so `id` grows with
(block_number, log_index): keyset paging by id follows chain order.

uint64 values (category/purpose masks, anchor sizes) are NUMERIC(20, 0). SQLite has no exact
type for numbers >= 2**63 (SQLAlchemy even binds Numeric through float there), so on SQLite
`Uint64` stores them as the two's-complement int64 (exact) and reads them back unsigned.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Dialect, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from consent_ledger.db.base import Base

ADDRESS = 42
HASH = 66
TWO_63 = 2**63
TWO_64 = 2**64

# The `kind` column.
GRANTED = "granted"
REVOKED = "revoked"
GRANT_REJECTED = "grant_rejected"
REVOKE_REJECTED = "revoke_rejected"
ANCHORED = "anchored"
KINDS = (GRANTED, REVOKED, GRANT_REJECTED, REVOKE_REJECTED, ANCHORED)


class _ExactNumeric(Numeric[Decimal]):
    """NUMERIC in DDL, but values pass to the driver untouched (no float conversion)."""

    def bind_processor(self, dialect: Dialect) -> None:
        return None

    def result_processor(self, dialect: Dialect, coltype: object) -> None:
        return None


class Uint64(TypeDecorator[int]):
    """An unsigned 64-bit integer as NUMERIC(20, 0), exact on every backend; Python `int` in and out."""

    impl = Numeric(20, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return _ExactNumeric(20, 0)
        return dialect.type_descriptor(Numeric(20, 0))

    def process_bind_param(self, value: int | Decimal | None, dialect: Dialect) -> int | Decimal | None:
        if value is None:
            return None
        number = int(value)
        if not 0 <= number < TWO_64:
            raise ValueError(f"{number} is not a uint64")
        if dialect.name == "sqlite":
            return number - TWO_64 if number >= TWO_63 else number
        return number

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        number = int(value)
        return number + TWO_64 if number < 0 else number


class ChainEvent(Base):
    """One decoded contract event. Columns that do not apply to a kind are NULL."""

    __tablename__ = "chain_events"
    __table_args__ = (UniqueConstraint("block_number", "log_index"),)

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    block_number: Mapped[int] = mapped_column(BigInteger())
    block_hash: Mapped[str] = mapped_column(String(HASH))
    block_timestamp: Mapped[int] = mapped_column(BigInteger())  # unix seconds, from the block header
    tx_hash: Mapped[str] = mapped_column(String(HASH))
    log_index: Mapped[int] = mapped_column(Integer())
    kind: Mapped[str] = mapped_column(String(16))  # one of KINDS
    customer: Mapped[str | None] = mapped_column(String(ADDRESS), index=True)  # NULL for anchors
    brand: Mapped[str | None] = mapped_column(String(ADDRESS), index=True)  # NULL for anchors
    categories: Mapped[int | None] = mapped_column(Uint64())  # granted
    purposes: Mapped[int | None] = mapped_column(Uint64())  # granted
    expires_at: Mapped[int | None] = mapped_column(BigInteger())  # granted (uint40)
    notice_hash: Mapped[str | None] = mapped_column(String(HASH))  # granted
    nonce: Mapped[str | None] = mapped_column(String(78))  # uint256 as decimal text; not for anchors
    reason: Mapped[str | None] = mapped_column(String(32))  # rejections: Rejection name, lower case
    custodian: Mapped[str | None] = mapped_column(String(ADDRESS))  # anchored
    root: Mapped[str | None] = mapped_column(String(HASH))  # anchored
    size: Mapped[int | None] = mapped_column(Uint64())  # anchored


class IndexerCursor(Base):
    """The last block whose events are all in `chain_events` (one row, id 1)."""

    __tablename__ = "indexer_cursor"

    id: Mapped[int] = mapped_column(Integer(), primary_key=True)
    contract: Mapped[str] = mapped_column(String(ADDRESS))
    block_number: Mapped[int] = mapped_column(BigInteger())
    block_hash: Mapped[str] = mapped_column(String(HASH))
