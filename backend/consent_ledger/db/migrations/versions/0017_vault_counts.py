"""customer_keys gains the customer's counting record: a column per counted category (its values sealed
under the customer's data key, see vault/counting.py) and counts_version, read by aggregate insight queries
in one row per customer instead of the field rows.

Revision ID: 0017_vault_counts
Revises: 0016_webhook_outbox

The new columns start NULL: the records of customers stored before this revision are built from their
fields by `Vault.counting.rebuild_counts` (it needs the master key, which migrations never see), which every
start-up of the application runs before it serves (composition.build_context) and which finds nothing
to do once they are built.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0017_vault_counts"
down_revision: str | None = "0016_webhook_outbox"
branch_labels: str | None = None
depends_on: str | None = None

SEGMENTS = ("age_range", "gender", "interests", "location_coarse")


def upgrade() -> None:
    op.add_column("customer_keys", sa.Column("counts_version", sa.Integer(), nullable=True))
    for name in SEGMENTS:
        op.add_column("customer_keys", sa.Column(name, sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customer_keys") as batch:
        for name in ("counts_version", *SEGMENTS):
            batch.drop_column(name)
