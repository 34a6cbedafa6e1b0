"""propagation_steps: the index of the access log's version-3 leaves (webhook events delivered to a brand,
and the brand's acknowledgements), by customer, brand, event id and step.

Revision ID: 0013_propagation_steps
Revises: 0012_insight_budgets
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0013_propagation_steps"
down_revision: str | None = "0012_insight_budgets"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)
INDEXED = ("event_id", "step", "customer", "brand")


def upgrade() -> None:
    op.create_table(
        "propagation_steps",
        sa.Column("leaf_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leaf_id", sa.String(36), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("customer", sa.String(42), nullable=False),
        sa.Column("brand", sa.String(42), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("ack", sa.String(24), nullable=True),
        sa.PrimaryKeyConstraint("leaf_index", name="pk_propagation_steps"),
        sa.ForeignKeyConstraint(
            ["leaf_index"], ["log_leaves.index"], name="fk_propagation_steps_leaf_index_log_leaves"
        ),
        sa.UniqueConstraint("leaf_id", name="uq_propagation_steps_leaf_id"),
    )
    for column in INDEXED:
        op.create_index(f"ix_propagation_steps_{column}", "propagation_steps", [column])


def downgrade() -> None:
    for column in INDEXED:
        op.drop_index(f"ix_propagation_steps_{column}", "propagation_steps")
    op.drop_table("propagation_steps")
