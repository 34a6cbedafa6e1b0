"""The API keys table: one row per key, holding the SHA-256 of its secret (never the secret itself)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from consent_ledger.db.base import Base, UtcDateTime

ADDRESS = 42
KEY_ID = 16


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(KEY_ID), primary_key=True)  # 16 hex, shown in the key
    brand: Mapped[str] = mapped_column(String(ADDRESS), index=True)
    name: Mapped[str] = mapped_column(String(120))
    permissions: Mapped[str] = mapped_column(String(400))  # space-separated, sorted
    secret_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
