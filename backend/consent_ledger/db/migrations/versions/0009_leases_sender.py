"""Replicas on one database: leases (one leader per job), sent_transactions (nonces recorded before
a transaction leaves), and outbox claims plus the transaction that carries a row.

Revision ID: 0009_leases_sender
Revises: 0008_event_senders

Rows an older version left `submitted` go back to `accepted`: the worker then settles each from the
chain (its nonce consumed: from the event; still open: sent again).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009_leases_sender"
down_revision: str | None = "0008_event_senders"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("term", sa.BigInteger(), nullable=False),
        sa.Column("acquired_at", TS, nullable=False),
        sa.Column("renewed_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )
    op.create_table(
        "sent_transactions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account", sa.String(42), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("to_address", sa.String(42), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("gas", sa.BigInteger(), nullable=False),
        sa.Column("max_fee", sa.String(40), nullable=False),
        sa.Column("priority_fee", sa.String(40), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("hashes", sa.Text(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(200), nullable=True),
        sa.Column("mined_hash", sa.String(66), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("block_hash", sa.String(66), nullable=True),
        sa.Column("succeeded", sa.Boolean(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("signed_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sent_transactions"),
        sa.UniqueConstraint("account", "nonce", name="uq_sent_transactions_account_nonce"),
    )
    op.create_index("ix_sent_transactions_state", "sent_transactions", ["state"])
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("claimed_until", TS, nullable=True))
        batch.add_column(sa.Column("tx_id", sa.Integer(), nullable=True))
        batch.create_index("ix_outbox_tx_id", ["tx_id"])
    op.execute("UPDATE outbox SET status = 'accepted' WHERE status = 'submitted'")


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_tx_id")
        batch.drop_column("tx_id")
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
    op.drop_index("ix_sent_transactions_state", table_name="sent_transactions")
    op.drop_table("sent_transactions")
    op.drop_table("leases")
