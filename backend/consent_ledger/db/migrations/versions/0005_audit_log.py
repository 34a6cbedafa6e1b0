"""The access log: log_leaves (append-only) and log_anchors.

Revision ID: 0005_audit_log
Revises: 0004_indexer
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005_audit_log"
down_revision: str | None = "0004_indexer"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "log_leaves",
        sa.Column("index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("receipt_id", sa.String(36), nullable=False),
        sa.Column("leaf", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("index", name="pk_log_leaves"),
        sa.UniqueConstraint("receipt_id", name="uq_log_leaves_receipt_id"),
    )
    op.create_table(
        "log_anchors",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.String(66), nullable=False),
        sa.Column("custodian", sa.String(42), nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("block_number", sa.Integer(), nullable=False),
        sa.Column("block_hash", sa.String(66), nullable=False),
        sa.Column("anchored_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("size", name="pk_log_anchors"),
    )


def downgrade() -> None:
    op.drop_table("log_anchors")
    op.drop_table("log_leaves")
