"""webhook_events (one per brand and cause, keyed by the 32-byte event id), webhook_deliveries (an event on
its way to one endpoint: state, attempts, next attempt, claim), webhook_attempts (the delivery log) and
webhook_scan (how far the emitter has read the chain events and the chain's clock).

Revision ID: 0016_webhook_outbox
Revises: 0015_webhook_endpoints
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0016_webhook_outbox"
down_revision: str | None = "0015_webhook_endpoints"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("brand", sa.String(42), nullable=False),
        sa.Column("customer", sa.String(42), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("ack", sa.String(24), nullable=True),
        sa.Column("acknowledged_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_events"),
    )
    op.create_index("ix_webhook_events_brand_created_at", "webhook_events", ["brand", "created_at"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("endpoint_id", sa.String(36), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("claimed_by", sa.String(36), nullable=True),
        sa.Column("lease_until", TS, nullable=True),
        sa.Column("delivered_at", TS, nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_deliveries_event_id_endpoint_id"),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["webhook_events.id"],
            name="fk_webhook_deliveries_event_id_webhook_events",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name="fk_webhook_deliveries_endpoint_id_webhook_endpoints",
            ondelete="CASCADE",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_webhook_deliveries_endpoint_id", "webhook_deliveries", ["endpoint_id"])
    op.create_index("ix_webhook_deliveries_state_next_attempt_at", "webhook_deliveries", ["state", "next_attempt_at"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.String(36), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(300), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_attempts"),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name="fk_webhook_attempts_delivery_id_webhook_deliveries",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name="fk_webhook_attempts_endpoint_id_webhook_endpoints",
            ondelete="CASCADE",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_webhook_attempts_delivery_id", "webhook_attempts", ["delivery_id"])
    op.create_index("ix_webhook_attempts_endpoint_id_id", "webhook_attempts", ["endpoint_id", "id"])
    op.create_table(
        "webhook_scan",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("chain_event_id", sa.BigInteger(), nullable=False),
        sa.Column("expired_until", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_scan"),
    )


def downgrade() -> None:
    op.drop_table("webhook_scan")
    op.drop_index("ix_webhook_attempts_endpoint_id_id", "webhook_attempts")
    op.drop_index("ix_webhook_attempts_delivery_id", "webhook_attempts")
    op.drop_table("webhook_attempts")
    op.drop_index("ix_webhook_deliveries_state_next_attempt_at", "webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_endpoint_id", "webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_webhook_events_brand_created_at", "webhook_events")
    op.drop_table("webhook_events")
