"""chain_events.terms: a grant's categories per purpose (the per-purpose contract's `Granted` terms).

Revision ID: 0011_event_terms
Revises: 0010_binding_genesis

Rows indexed before this revision came from the earlier contract (one set of categories for every
purpose); that contract is not this one, so a database bound to it is never pointed at the new one
(the deployment binding refuses it). The column is nullable: only `granted` rows carry terms.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011_event_terms"
down_revision: str | None = "0010_binding_genesis"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("chain_events") as batch:
        batch.add_column(sa.Column("terms", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chain_events") as batch:
        batch.drop_column("terms")
