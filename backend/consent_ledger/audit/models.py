"""The access log's tables: leaves (append-only; the code has no update or delete path) and the
anchors written on-chain."""

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


class LogAnchor(Base):
    __tablename__ = "log_anchors"

    size: Mapped[int] = mapped_column(BigInteger(), primary_key=True, autoincrement=False)
    root: Mapped[str] = mapped_column(String(66))
    custodian: Mapped[str] = mapped_column(String(42))
    tx_hash: Mapped[str] = mapped_column(String(66))
    block_number: Mapped[int] = mapped_column(Integer())
    block_hash: Mapped[str] = mapped_column(String(66))
    anchored_at: Mapped[datetime] = mapped_column(UtcDateTime())
