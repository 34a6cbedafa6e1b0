"""The webhook endpoint tables: one row per endpoint a brand registered, and its signing secrets
(encrypted under the vault master key, never stored in plaintext)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from consent_ledger.db.base import Base, UtcDateTime

ADDRESS = 42
UUID = 36
MAX_URL = 2048
MAX_DESCRIPTION = 200
MAX_REASON = 300
MASTER_KEY_ID = 16


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(UUID), primary_key=True)
    brand: Mapped[str] = mapped_column(String(ADDRESS), index=True)
    url: Mapped[str] = mapped_column(Text())
    event_types: Mapped[str] = mapped_column(String(400))  # space-separated, in EVENT_TYPES order
    description: Mapped[str] = mapped_column(String(MAX_DESCRIPTION))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(MAX_REASON), nullable=True)
    failing_since: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    version: Mapped[int] = mapped_column(Integer())  # +1 on every change a compare-and-set must see


class WebhookEndpointSecret(Base):
    """One signing secret: AES-256-GCM under the master key, bound to its endpoint and its own id.
    `expires_at` is null for the current secret, set (24 h ahead) on the one a rotation replaced."""

    __tablename__ = "webhook_endpoint_secrets"

    id: Mapped[str] = mapped_column(String(UUID), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(
        String(UUID), ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    sealed: Mapped[bytes] = mapped_column(LargeBinary())  # nonce (12) | ciphertext + tag
    master_key_id: Mapped[str] = mapped_column(String(MASTER_KEY_ID))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
