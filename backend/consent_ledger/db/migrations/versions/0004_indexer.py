"""chain_events and indexer_cursor: the contract's events, indexed from the chain.

Revision ID: 0004_indexer
Revises: 0003_binding

Hand-written. Constraint names follow consent_ledger.db.base.NAMING_CONVENTION. Unique on
(block_number, log_index): the table holds the canonical history only (see indexer/models.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004_indexer"
down_revision: str | None = "0003_binding"
branch_labels: str | None = None
depends_on: str | None = None

UINT64 = sa.Numeric(20, 0)


def upgrade() -> None:
    op.create_table(
        "chain_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(66), nullable=False),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("customer", sa.String(42), nullable=True),
        sa.Column("brand", sa.String(42), nullable=True),
        sa.Column("categories", UINT64, nullable=True),
        sa.Column("purposes", UINT64, nullable=True),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.Column("notice_hash", sa.String(66), nullable=True),
        sa.Column("nonce", sa.String(78), nullable=True),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("custodian", sa.String(42), nullable=True),
        sa.Column("root", sa.String(66), nullable=True),
        sa.Column("size", UINT64, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_chain_events"),
        sa.UniqueConstraint("block_number", "log_index", name="uq_chain_events_block_number_log_index"),
        sqlite_autoincrement=True,  # ids never reused after a rewind: keyset paging stays monotonic
    )
    op.create_index("ix_chain_events_customer", "chain_events", ["customer"])
    op.create_index("ix_chain_events_brand", "chain_events", ["brand"])
    op.create_table(
        "indexer_cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract", sa.String(42), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(66), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_indexer_cursor"),
    )


def downgrade() -> None:
    op.drop_table("indexer_cursor")
    op.drop_table("chain_events")
