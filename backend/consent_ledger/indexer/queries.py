"""Read the indexed history: JSON-ready dicts for history views (the API builds on these).

Rows come in chain order (block_number, log_index). Paging is by keyset: pass the last row's
(block_number, log_index) as `after` (a position on the chain, stable across re-indexing), or its
id as `after_id`. Ids grow with chain position and are never reused (see models.py), so queries
sort by id: the same order, and the primary key serves deep pages.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import Select, and_, not_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.addresses import checksum
from consent_ledger.errors import InputError
from consent_ledger.indexer.models import ANCHORED, GRANT_REJECTED, KINDS, REVOKE_REJECTED, ChainEvent
from consent_ledger.indexer.rows import COLUMNS, terms_json

MAX_LIMIT = 5_000
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_FIELDS = ("id", *COLUMNS)
_ANCHOR_FIELDS = (
    "id",
    "custodian",
    "root",
    "size",
    "block_number",
    "block_hash",
    "block_timestamp",
    "tx_hash",
    "log_index",
)


def _address(value: str, name: str) -> str:
    if not _ADDRESS.fullmatch(value):
        raise InputError(f"{name} must be a 0x-prefixed 20-byte hex address, got {value!r}")
    return checksum(value)


def _rows(sessions: sessionmaker[Session], query: Select[Any], fields: tuple[str, ...]) -> list[dict[str, Any]]:
    with sessions() as session:
        return [dict(zip(fields, row, strict=True)) for row in session.execute(query)]


def history(
    session_factory: sessionmaker[Session],
    *,
    customer: str | None = None,
    brand: str | None = None,
    kinds: Iterable[str] | None = None,
    from_block: int | None = None,
    to_block: int | None = None,
    limit: int = 100,
    after_id: int | None = None,
    after: tuple[int, int] | None = None,
    rejections_from: Collection[str] | None = None,
) -> list[dict[str, Any]]:
    """Indexed events matching every given filter, oldest first, at most `limit` (1..MAX_LIMIT).

    `after` = (block_number, log_index): only events strictly after that chain position.
    `rejections_from`: keep a rejection only when its transaction was sent by one of these
    addresses (every other kind is kept); None keeps them all.

    Each dict has every column of `chain_events` (None where it does not apply to the kind);
    masks and sizes are ints, the nonce decimal text, block_timestamp unix seconds; a grant's
    `terms` is [{"purpose": n, "categories": mask}], ascending.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    query = select(*(getattr(ChainEvent, field) for field in _FIELDS))
    if customer is not None:
        query = query.where(ChainEvent.customer == _address(customer, "customer"))
    if brand is not None:
        query = query.where(ChainEvent.brand == _address(brand, "brand"))
    if kinds is not None:
        wanted = sorted(set(kinds))
        unknown = set(wanted) - set(KINDS)
        if unknown:
            raise InputError(f"unknown event kinds {sorted(unknown)}: use some of {list(KINDS)}")
        query = query.where(ChainEvent.kind.in_(wanted))
    if from_block is not None:
        query = query.where(ChainEvent.block_number >= from_block)
    if to_block is not None:
        query = query.where(ChainEvent.block_number <= to_block)
    if after_id is not None:
        query = query.where(ChainEvent.id > after_id)
    if after is not None:
        block, log_index = after
        query = query.where(
            or_(
                ChainEvent.block_number > block,
                and_(ChainEvent.block_number == block, ChainEvent.log_index > log_index),
            )
        )
    if rejections_from is not None:
        senders = sorted({_address(a, "sender") for a in rejections_from})
        rejection = ChainEvent.kind.in_([GRANT_REJECTED, REVOKE_REJECTED])
        query = query.where(or_(not_(rejection), ChainEvent.sender.in_(senders)))
    query = query.order_by(ChainEvent.id).limit(limit)  # = (block_number, log_index) order, see module doc
    rows = _rows(session_factory, query, _FIELDS)
    for row in rows:
        if row["terms"] is not None:
            row["terms"] = terms_json(row["terms"])
    return rows


def anchors(session_factory: sessionmaker[Session], custodian: str | None = None) -> list[dict[str, Any]]:
    """Every indexed `Anchored` event (of one custodian when given), oldest first."""
    query = select(*(getattr(ChainEvent, field) for field in _ANCHOR_FIELDS)).where(ChainEvent.kind == ANCHORED)
    if custodian is not None:
        query = query.where(ChainEvent.custodian == _address(custodian, "custodian"))
    query = query.order_by(ChainEvent.block_number, ChainEvent.log_index)
    return _rows(session_factory, query, _ANCHOR_FIELDS)
