"""The webhook tables: one row per endpoint a brand registered, and its signing secrets (encrypted under
the vault master key, never stored in plaintext); the delivery outbox (events, deliveries per endpoint,
the attempt log) and the emitter's scan position."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
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


# ---------------------------------------------------------------------------------------- the outbox

EVENT_ID = 64  # lower-case hex of the 32-byte event id
EVENT_TYPE = 32
STATE = 12
CLAIM = 36
MAX_ERROR = 300
ACK = 24

# The `state` of a delivery.
PENDING = "pending"  # due at next_attempt_at (claimed while lease_until lies ahead)
DELIVERED = "delivered"  # a 2xx answer came back
DEAD = "dead"  # no 2xx within the retry window; only a replay sends it again
STATES = (PENDING, DELIVERED, DEAD)


class OutboxEvent(Base):
    """One event for one brand, made once per cause (`id` = SHA-256 of the cause key, webhooks.events).
    `body` is the exact JSON sent on every attempt and replay; `ack` the brand's latest acknowledgement."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_brand_created_at", "brand", "created_at"),)

    id: Mapped[str] = mapped_column(String(EVENT_ID), primary_key=True)
    brand: Mapped[str] = mapped_column(String(ADDRESS))
    customer: Mapped[str] = mapped_column(String(ADDRESS))
    type: Mapped[str] = mapped_column(String(EVENT_TYPE))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    body: Mapped[bytes] = mapped_column(LargeBinary())
    ack: Mapped[str | None] = mapped_column(String(ACK), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class OutboxDelivery(Base):
    """An event on its way to one endpoint. A worker claims it by writing its claim token and a lease end;
    every later change names that token and the state it expects."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        Index("ix_webhook_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(EVENT_ID), ForeignKey("webhook_events.id", ondelete="CASCADE"))
    endpoint_id: Mapped[str] = mapped_column(
        String(UUID), ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(STATE))
    attempts: Mapped[int] = mapped_column(Integer())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())  # the retry window runs from here
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(CLAIM), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(MAX_ERROR), nullable=True)


class OutboxAttempt(Base):
    """One attempt to deliver: the delivery log an endpoint's owner reads."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        Index("ix_webhook_attempts_endpoint_id_id", "endpoint_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        Integer(), ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[str] = mapped_column(String(UUID), ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(EVENT_ID))
    attempt: Mapped[int] = mapped_column(Integer())
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer(), nullable=True)
    latency_ms: Mapped[int] = mapped_column(Integer())
    error: Mapped[str | None] = mapped_column(String(MAX_ERROR), nullable=True)


class OutboxScan(Base):
    """How far the emitter has read (one row, id 1): the last chain_events id turned into events, and the
    chain time up to which expiries were looked for."""

    __tablename__ = "webhook_scan"

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=False)
    chain_event_id: Mapped[int] = mapped_column(BigInteger())
    expired_until: Mapped[int] = mapped_column(BigInteger())  # unix seconds of chain time
