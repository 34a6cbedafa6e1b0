"""The backend's own tables: outbox (relayer), release_receipts, brands, auth_nonces.

Revision ID: 0002_backend
Revises: 0001_vault

Hand-written. Constraint names follow consent_ledger.db.base.NAMING_CONVENTION.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002_backend"
down_revision: str | None = "0001_vault"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("customer", sa.String(42), nullable=False),
        sa.Column("brand", sa.String(42), nullable=False),
        sa.Column("nonce", sa.String(78), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(4096), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=True),
        sa.Column("block_number", sa.Integer(), nullable=True),
        sa.Column("block_hash", sa.String(66), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("customer", "brand", "nonce", name="uq_outbox_customer_brand_nonce"),
    )
    op.create_index("ix_outbox_customer", "outbox", ["customer"])
    op.create_index("ix_outbox_status", "outbox", ["status"])
    op.create_table(
        "release_receipts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("customer", sa.String(42), nullable=False),
        sa.Column("brand", sa.String(42), nullable=False),
        sa.Column("categories", sa.Numeric(20, 0), nullable=False),
        sa.Column("purposes", sa.Numeric(20, 0), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("block_number", sa.Integer(), nullable=False),
        sa.Column("block_hash", sa.String(66), nullable=False),
        sa.Column("released_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_release_receipts"),
    )
    for column in ("request_id", "customer", "brand"):
        op.create_index(f"ix_release_receipts_{column}", "release_receipts", [column])
    op.create_table(
        "brands",
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("address", name="pk_brands"),
    )
    op.create_table(
        "auth_nonces",
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("nonce", name="pk_auth_nonces"),
    )
    op.create_index("ix_auth_nonces_expires_at", "auth_nonces", ["expires_at"])


def downgrade() -> None:
    op.drop_table("auth_nonces")
    op.drop_table("brands")
    op.drop_table("release_receipts")
    op.drop_table("outbox")
