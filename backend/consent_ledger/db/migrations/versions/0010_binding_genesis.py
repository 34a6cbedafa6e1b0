"""deployment_binding.genesis_hash: the chain a database belongs to is named by id and genesis block.

Revision ID: 0010_binding_genesis
Revises: 0009_leases_sender

Two chains can share an id (a fresh devnet, another node on 31337) and, deployed by the same key, the
contract address; their genesis hashes differ. A database bound before this revision has no genesis
hash yet: the first start fills in the chain it is started against.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010_binding_genesis"
down_revision: str | None = "0009_leases_sender"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("deployment_binding") as batch:
        batch.add_column(sa.Column("genesis_hash", sa.String(66), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployment_binding") as batch:
        batch.drop_column("genesis_hash")
