"""webhook_endpoints: brands' webhook endpoints (URL, event types, disabled state, compare-and-set
version) and webhook_endpoint_secrets (signing secrets sealed under the vault master key).

Revision ID: 0015_webhook_endpoints
Revises: 0014_api_keys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015_webhook_endpoints"
down_revision: str | None = "0014_api_keys"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("brand", sa.String(42), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event_types", sa.String(400), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("disabled_at", TS, nullable=True),
        sa.Column("disabled_reason", sa.String(300), nullable=True),
        sa.Column("failing_since", TS, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_endpoints"),
    )
    op.create_index("ix_webhook_endpoints_brand", "webhook_endpoints", ["brand"])
    op.create_table(
        "webhook_endpoint_secrets",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("endpoint_id", sa.String(36), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("master_key_id", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_endpoint_secrets"),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name="fk_webhook_endpoint_secrets_endpoint_id_webhook_endpoints",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_webhook_endpoint_secrets_endpoint_id", "webhook_endpoint_secrets", ["endpoint_id"])


def downgrade() -> None:
    op.drop_index("ix_webhook_endpoint_secrets_endpoint_id", "webhook_endpoint_secrets")
    op.drop_table("webhook_endpoint_secrets")
    op.drop_index("ix_webhook_endpoints_brand", "webhook_endpoints")
    op.drop_table("webhook_endpoints")
