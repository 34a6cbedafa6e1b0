"""outbox: one LIVE message per (customer, brand, nonce); a rejected row frees its nonce.

Revision ID: 0006_outbox_live_nonce
Revises: 0005_audit_log

The unique constraint on (customer, brand, nonce) ignored the row's status, so after an on-chain
rejection (which leaves the pair's nonce where it was) the customer could never submit another
message with that nonce: every new one was refused as "already accepted". It becomes a partial
unique index over rows that are not rejected (SQLite and PostgreSQL both have partial indexes).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_outbox_live_nonce"
down_revision: str | None = "0005_audit_log"
branch_labels: str | None = None
depends_on: str | None = None

LIVE = sa.text("status <> 'rejected'")


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("uq_outbox_customer_brand_nonce", type_="unique")
    op.create_index(
        "uq_outbox_live_nonce",
        "outbox",
        ["customer", "brand", "nonce"],
        unique=True,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )


def downgrade() -> None:
    op.drop_index("uq_outbox_live_nonce", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.create_unique_constraint("uq_outbox_customer_brand_nonce", ["customer", "brand", "nonce"])
