"""The access log's tables: leaves (append-only; the code has no update or delete path), the tree's
stored nodes and its head (size and frontier, the one row every append locks), and the anchors written
on-chain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from consent_ledger.db.base import Base, UtcDateTime


class LogLeaf(Base):
    __tablename__ = "log_leaves"

    index: Mapped[int] = mapped_column(BigInteger(), primary_key=True, autoincrement=False)
    receipt_id: Mapped[str] = mapped_column(String(36), unique=True)
    leaf: Mapped[bytes] = mapped_column(LargeBinary())
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary())


class LogNode(Base):
    """A complete node of the tree above the leaves: `id` is `node_id(level, position)` (level >= 1), `hash` the
    hash of leaves [position * 2^level, (position + 1) * 2^level). Written by the append that completes it;
    level 0 is `LogLeaf.leaf_hash`."""

    __tablename__ = "log_nodes"

    id: Mapped[int] = mapped_column(BigInteger(), primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary())


POSITION_BITS = 56  # 2^56 leaves per log; levels up to 63 keep ids inside a signed 64-bit integer


def node_id(level: int, position: int) -> int:
    """The one-integer key of node (level, position) in log_nodes: level in the top bits, position below."""
    return (level << POSITION_BITS) | position


class LogHead(Base):
    """The one row (id 1) holding the log's size and frontier (`audit.merkle.Frontier`). Every append updates
    it first, in the receipts' transaction: that row lock is what orders appends across replicas."""

    __tablename__ = "log_head"

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger())
    frontier: Mapped[bytes] = mapped_column(LargeBinary())


class LogAnchor(Base):
    __tablename__ = "log_anchors"

    size: Mapped[int] = mapped_column(BigInteger(), primary_key=True, autoincrement=False)
    root: Mapped[str] = mapped_column(String(66))
    custodian: Mapped[str] = mapped_column(String(42))
    tx_hash: Mapped[str] = mapped_column(String(66))
    block_number: Mapped[int] = mapped_column(Integer())
    block_hash: Mapped[str] = mapped_column(String(66))
    anchored_at: Mapped[datetime] = mapped_column(UtcDateTime())
