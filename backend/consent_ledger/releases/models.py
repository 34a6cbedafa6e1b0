"""Release receipts: one row per customer record released to a brand, committed before the data
leaves. Names the block the on-chain decision was made at. Never updated or deleted by the code
(the access-log issue builds its Merkle log on these rows)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from consent_ledger.db.base import Base, UtcDateTime
from consent_ledger.db.types import Uint64

ADDRESS = 42
HASH = 66


class ReleaseReceipt(Base):
    __tablename__ = "release_receipts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # uuid4
    request_id: Mapped[str] = mapped_column(String(36), index=True)
    customer: Mapped[str] = mapped_column(String(ADDRESS), index=True)
    brand: Mapped[str] = mapped_column(String(ADDRESS), index=True)
    categories: Mapped[int] = mapped_column(Uint64())  # uint64 mask actually released
    purposes: Mapped[int] = mapped_column(Uint64())  # the purpose bit asked for
    fields: Mapped[str] = mapped_column(Text())  # JSON list of field names released (never values)
    block_number: Mapped[int] = mapped_column(Integer())
    block_hash: Mapped[str] = mapped_column(String(HASH))
    released_at: Mapped[datetime] = mapped_column(UtcDateTime())
