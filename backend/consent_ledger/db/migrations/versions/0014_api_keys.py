"""api_keys: brands' API keys (SHA-256 of the secret, permissions, expiry, revocation, last use).

Revision ID: 0014_api_keys
Revises: 0013_propagation_steps
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014_api_keys"
down_revision: str | None = "0013_propagation_steps"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("brand", sa.String(42), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("permissions", sa.String(400), nullable=False),
        sa.Column("secret_sha256", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("last_used_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
    )
    op.create_index("ix_api_keys_brand", "api_keys", ["brand"])


def downgrade() -> None:
    op.drop_index("ix_api_keys_brand", "api_keys")
    op.drop_table("api_keys")
