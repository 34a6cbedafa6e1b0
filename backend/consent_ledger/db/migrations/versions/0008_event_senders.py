"""chain_events.sender: who sent the transaction that emitted each event.

Revision ID: 0008_event_senders
Revises: 0007_log_tree

Anyone can relay a batch of junk items and so emit `GrantRejected`/`RevokeRejected` naming any
customer and brand; the event alone does not say who asked. The transaction's `from` does, so
history views can show each rejection with its sender (and a customer only those sent by a
custodian or by the customer). Rows indexed before this revision have no sender: the table is a
cache of the chain, so it is emptied with its cursor and the indexer reads the chain again from the
deployment block, this time with senders.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008_event_senders"
down_revision: str | None = "0007_log_tree"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.execute("DELETE FROM chain_events")
    op.execute("DELETE FROM indexer_cursor")
    op.add_column("chain_events", sa.Column("sender", sa.String(42), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chain_events") as batch:
        batch.drop_column("sender")
