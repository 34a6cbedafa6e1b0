"""The customer data vault: customers, customer_keys (wrapped data keys), customer_fields (ciphertexts).

Revision ID: 0001_vault
Revises: (none: the first revision)

Hand-written. Constraint names follow consent_ledger.db.base.NAMING_CONVENTION.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001_vault"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("address", name="pk_customers"),
    )
    op.create_table(
        "customer_keys",
        sa.Column("customer", sa.String(42), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("master_key_id", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer", name="pk_customer_keys"),
        sa.ForeignKeyConstraint(
            ["customer"], ["customers.address"], name="fk_customer_keys_customer_customers", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "customer_fields",
        sa.Column("customer", sa.String(42), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer", "field", name="pk_customer_fields"),
        sa.ForeignKeyConstraint(
            ["customer"], ["customers.address"], name="fk_customer_fields_customer_customers", ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("customer_fields")
    op.drop_table("customer_keys")
    op.drop_table("customers")
