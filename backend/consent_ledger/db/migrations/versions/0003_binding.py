"""deployment_binding: the one deployment (chain id + contract) a database belongs to.

Revision ID: 0003_binding
Revises: 0002_backend

Outbox rows, receipts and nonces only make sense for one contract; the API refuses to start on a
database bound to another.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003_binding"
down_revision: str | None = "0002_backend"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "deployment_binding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("contract", sa.String(42), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deployment_binding"),
    )


def downgrade() -> None:
    op.drop_table("deployment_binding")
