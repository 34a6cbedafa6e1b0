"""insight_budgets: the epsilon each brand spent on aggregate insight queries, per budget period.

Revision ID: 0012_insight_budgets
Revises: 0011_event_terms
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012_insight_budgets"
down_revision: str | None = "0011_event_terms"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "insight_budgets",
        sa.Column("brand", sa.String(42), primary_key=True),
        sa.Column("period", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("spent_micro", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("insight_budgets")
