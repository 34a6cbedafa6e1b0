"""Decoded events -> `chain_events` rows, and their bulk insert.

Rows are tuples in COLUMNS order, inserted with the driver's executemany in one statement per
chunk. Core `insert(table)` with a list of dicts builds and processes a parameter dict per row in
SQLAlchemy (~6 µs a row: a fifth of the indexer's whole budget at 30k events/s); tuples straight
to the driver skip that. The one type conversion the table needs (uint64 on SQLite) is applied
here with the model's own `Uint64` type, so both paths store the same values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from consent_ledger.chain.events import Anchored, Granted, LedgerEvent, Rejected, Revoked
from consent_ledger.db.types import TWO_63, Uint64
from consent_ledger.domain import Terms
from consent_ledger.indexer import models

COLUMNS = (
    "block_number",
    "block_hash",
    "block_timestamp",
    "tx_hash",
    "log_index",
    "kind",
    "customer",
    "brand",
    "categories",
    "purposes",
    "terms",
    "expires_at",
    "notice_hash",
    "nonce",
    "reason",
    "custodian",
    "root",
    "size",
    "sender",
)
_UINT64_AT = tuple(COLUMNS.index(name) for name in ("categories", "purposes", "size"))
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}
_UINT64 = Uint64()

Row = tuple[Any, ...]


def terms_text(terms: Terms) -> str:
    """A grant's terms as stored: `purpose=categories` in decimal, comma-separated, ascending."""
    return ",".join(f"{t.purpose}={t.categories}" for t in terms)


def terms_json(text: str) -> list[dict[str, int]]:
    """Stored terms -> [{"purpose": n, "categories": mask}] (the history dicts' form)."""
    if not text:
        return []
    pairs = (item.split("=", 1) for item in text.split(","))
    return [{"purpose": int(p), "categories": int(c)} for p, c in pairs]


def event_values(event: LedgerEvent, block_timestamp: int, sender: str | None) -> Row:
    """One row in COLUMNS order; None where a column does not apply to the kind. `sender` is the
    `from` of the transaction that emitted the event."""
    at = event.at
    head = (at.block_number, at.block_hash, block_timestamp, at.tx_hash, at.log_index)
    if isinstance(event, Granted):
        body: tuple[Any, ...] = (
            models.GRANTED,
            event.customer,
            event.brand,
            event.categories,
            event.purposes,
            terms_text(event.terms),
            event.expires_at,
            event.notice_hash,
            str(event.nonce),
            None,
            None,
            None,
            None,
        )
    elif isinstance(event, Revoked):
        body = (models.REVOKED, event.customer, event.brand, *(None,) * 5, str(event.nonce), *(None,) * 4)
    elif isinstance(event, Rejected):
        kind = models.GRANT_REJECTED if event.kind == "grant" else models.REVOKE_REJECTED
        reason = event.reason.name.lower()
        body = (kind, event.customer, event.brand, *(None,) * 5, str(event.nonce), reason, None, None, None)
    elif isinstance(event, Anchored):
        body = (models.ANCHORED, *(None,) * 9, event.custodian, event.root, event.size)
    else:
        raise TypeError(f"not a ledger event: {event!r}")
    return (*head, *body, sender)


def insert_rows(connection: Connection, rows: Sequence[Row]) -> None:
    """INSERT every row into chain_events in one executemany."""
    if not rows:
        return
    dialect = connection.dialect
    mark = _PLACEHOLDERS.get(str(dialect.paramstyle))
    if mark is None:
        raise NotImplementedError(f"no bulk insert for paramstyle {dialect.paramstyle!r}")
    if dialect.name == "sqlite":  # uint64 >= 2**63 does not fit SQLite's integers: Uint64 stores them signed
        rows = [
            row if all(row[i] is None or row[i] < TWO_63 for i in _UINT64_AT) else _uint64_fixed(row, dialect)
            for row in rows
        ]
    names = ", ".join(dialect.identifier_preparer.quote(name) for name in COLUMNS)
    sql = f"INSERT INTO chain_events ({names}) VALUES ({', '.join([mark] * len(COLUMNS))})"  # noqa: S608 -- constant names and placeholders only
    connection.exec_driver_sql(sql, list(rows))


def _uint64_fixed(row: Row, dialect: Any) -> Row:
    values = list(row)
    for i in _UINT64_AT:
        values[i] = _UINT64.process_bind_param(values[i], dialect)
    return tuple(values)
