"""The access log's tree in the database: log_nodes (complete subtree hashes) and log_head (size and
frontier, the row every append locks), filled from the leaves already there.

Revision ID: 0007_log_tree
Revises: 0006_outbox_live_nonce
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision: str = "0007_log_tree"
down_revision: str | None = "0006_outbox_live_nonce"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    nodes = op.create_table(
        "log_nodes",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_log_nodes"),
    )
    head = op.create_table(
        "log_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_log_head"),
    )
    # The leaves written before this revision: their nodes and frontier, computed here (this file must not
    # depend on application code that may change later). RFC 9162 node hash: SHA-256(0x01 || left || right).
    log_leaves = sa.table("log_leaves", sa.column("index", sa.BigInteger()), sa.column("leaf_hash", sa.LargeBinary()))
    query = sa.select(log_leaves.c.leaf_hash).order_by(log_leaves.c.index)
    leaves = op.get_bind().execute(query).scalars().all()
    frontier: list[bytes] = []
    rows: list[dict[str, object]] = []
    for index, leaf in enumerate(leaves):
        current, level = bytes(leaf), 0
        while (index >> level) & 1:
            current = hashlib.sha256(b"\x01" + frontier.pop() + current).digest()
            level += 1
            rows.append({"id": (level << 56) | (index >> level), "hash": current})  # audit.models.node_id
        frontier.append(current)
    if rows:
        op.bulk_insert(nodes, rows)
    op.bulk_insert(head, [{"id": 1, "size": len(leaves), "frontier": b"".join(frontier)}])


def downgrade() -> None:
    op.drop_table("log_head")
    op.drop_table("log_nodes")
