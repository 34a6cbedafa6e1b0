"""The indexer's tables: `chain_events` (one row per contract log on the canonical chain, decoded)
and `indexer_cursor` (the last block indexed, by number and hash).

Uniqueness is on (block_number, log_index), not (block_hash, log_index): the table holds ONE
history at a time. A reorg deletes every row above the fork point before the new branch's rows
are inserted (same transaction), so a position is never taken twice; if a bug ever left rows of
an orphaned block behind, inserting the canonical block would fail loudly instead of silently
keeping two histories side by side. The constraint's index (block_number first) also serves
range scans by block, so block_number needs no index of its own.

Rows are only ever appended above the highest indexed block, in chain order, and ids are never
reused (AUTOINCREMENT on SQLite), so `id` grows with (block_number, log_index) and a rewind never
hands an old id to a new row: keyset paging by id follows chain order, even across reorgs.

uint64 values (category/purpose masks, anchor sizes) are NUMERIC(20, 0). SQLite has no exact
type for numbers >= 2**63 (SQLAlchemy even binds Numeric through float there), so on SQLite
`Uint64` stores them as the two's-complement int64 (exact) and reads them back unsigned.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from consent_ledger.db.base import Base
from consent_ledger.db.types import Uint64

ADDRESS = 42
HASH = 66

# The `kind` column.
GRANTED = "granted"
REVOKED = "revoked"
GRANT_REJECTED = "grant_rejected"
REVOKE_REJECTED = "revoke_rejected"
ANCHORED = "anchored"
KINDS = (GRANTED, REVOKED, GRANT_REJECTED, REVOKE_REJECTED, ANCHORED)


class ChainEvent(Base):
    """One decoded contract event. Columns that do not apply to a kind are NULL."""

    __tablename__ = "chain_events"
    # AUTOINCREMENT on SQLite: ids are never reused after a rewind (PostgreSQL sequences never are).
    __table_args__ = (UniqueConstraint("block_number", "log_index"), {"sqlite_autoincrement": True})

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
    purposes: Mapped[int | None] = mapped_column(Uint64())  # granted: the mask of `terms`' purposes
    # granted: per purpose, its categories ("purpose=mask,..." ascending); `categories` is their union
    terms: Mapped[str | None] = mapped_column(Text())
    expires_at: Mapped[int | None] = mapped_column(BigInteger())  # granted (uint40)
    notice_hash: Mapped[str | None] = mapped_column(String(HASH))  # granted
    nonce: Mapped[str | None] = mapped_column(String(78))  # uint256 as decimal text; not for anchors
    reason: Mapped[str | None] = mapped_column(String(32))  # rejections: Rejection name, lower case
    custodian: Mapped[str | None] = mapped_column(String(ADDRESS))  # anchored
    root: Mapped[str | None] = mapped_column(String(HASH))  # anchored
    size: Mapped[int | None] = mapped_column(Uint64())  # anchored
    # The `from` of the transaction that emitted the event: for a rejection, who asked for it.
    sender: Mapped[str | None] = mapped_column(String(ADDRESS))


class IndexerCursor(Base):
    """The last block whose events are all in `chain_events` (one row, id 1)."""

    __tablename__ = "indexer_cursor"

    id: Mapped[int] = mapped_column(Integer(), primary_key=True)
    contract: Mapped[str] = mapped_column(String(ADDRESS))
    block_number: Mapped[int] = mapped_column(BigInteger())
    block_hash: Mapped[str] = mapped_column(String(HASH))
