"""The vault's SQL: the columns its reads select (plain rows, no ORM objects), the dialect's upserts, and
the customer-row locks that serialise writes and erasure. No encryption here: `store` decrypts what these read."""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from consent_ledger.vault.counting import COUNTED_CATEGORIES, COUNTS_VERSION
from consent_ledger.vault.models import Customer, CustomerField, CustomerKey


class FieldRow(Protocol):
    customer: str
    field: str
    category: str
    nonce: bytes
    ciphertext: bytes
    created_at: datetime
    updated_at: datetime


class KeyRow(Protocol):
    @property
    def customer(self) -> str: ...
    @property
    def wrapped_key(self) -> bytes: ...
    @property
    def key_version(self) -> int: ...
    @property
    def master_key_id(self) -> str: ...


# (customer, the id of the master key of its row, then the sealed counting segment of each asked category
# in the order asked, None when absent): a plain DBAPI tuple, as `read_counts` yields them
CountRow = tuple[str, str, *tuple[bytes | None, ...]]

READ_COLUMNS = (
    CustomerField.customer,
    CustomerField.field,
    CustomerField.category,
    CustomerField.nonce,
    CustomerField.ciphertext,
    CustomerField.created_at,
    CustomerField.updated_at,
    CustomerKey.wrapped_key,
    CustomerKey.key_version,
    CustomerKey.master_key_id,
)


def read_fields(
    session: Session, addresses: Sequence[str], categories: AbstractSet[str] | None
) -> list[tuple[FieldRow, KeyRow]]:
    """Field rows of `addresses` (only `categories`, when given) with their keys: ONE query, plain rows
    (no ORM objects: building those cost more than the decryption on the release path)."""
    query = (
        select(*READ_COLUMNS)
        .join(CustomerKey, CustomerKey.customer == CustomerField.customer)
        .where(CustomerField.customer.in_(addresses))
    )
    if categories is not None:
        query = query.where(CustomerField.category.in_(sorted(categories)))
    rows: list[Any] = list(session.execute(query))
    return [(row, row) for row in rows]


SEALED_COLUMNS = (
    CustomerField.customer,
    CustomerField.field,
    CustomerField.category,
    CustomerField.nonce,
    CustomerField.ciphertext,
    CustomerKey.wrapped_key,
    CustomerKey.key_version,
    CustomerKey.master_key_id,
)


def read_counts(session: Session, categories: Sequence[str], chunk: int) -> Generator[list[CountRow]]:
    """The current-version counting records holding any of `categories` (counted ones), with their master
    key ids, `chunk` rows at a time as they are read: ONE query of one table, on the DBAPI cursor (plain
    tuples: at 100,000 rows SQLAlchemy's row objects cost more than reading them). A record lives in its
    customer's key row, so it exists only for a customer not erased (erasure deletes the row; no write
    reaches an erased customer)."""
    segments = [getattr(CustomerKey, COUNTED_CATEGORIES[category]) for category in categories]
    query = select(CustomerKey.customer, CustomerKey.master_key_id, *segments).where(
        CustomerKey.counts_version == COUNTS_VERSION,
        or_(*(segment.is_not(None) for segment in segments)),
    )
    # the only parameter is the integer COUNTS_VERSION: rendered inline, so the SQL runs on any DBAPI cursor
    sql = str(query.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}))
    dbapi = session.get_bind().dialect.loaded_dbapi
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(chunk):  # sqlite3 and psycopg give str, bytes, int: no conversion
            yield list(rows)
    except dbapi.Error as error:  # what SQLAlchemy would have raised, had it run the cursor
        raise DBAPIError.instance(sql, None, error, dbapi.Error) from error
    finally:
        cursor.close()


def missing_counts(session: Session, after: str, limit: int) -> list[str]:
    """Up to `limit` customers past `after` (in address order) holding fields in the counted categories but
    no current counting record. Scans the key rows, not the fields: cheap when every record is built."""
    counted_field = (
        select(CustomerField.customer)
        .where(CustomerField.customer == CustomerKey.customer, CustomerField.category.in_(list(COUNTED_CATEGORIES)))
        .exists()
    )
    query = (
        select(CustomerKey.customer)
        .where(
            CustomerKey.customer > after,
            or_(CustomerKey.counts_version.is_(None), CustomerKey.counts_version != COUNTS_VERSION),
            counted_field,
        )
        .order_by(CustomerKey.customer)
        .limit(limit)
    )
    return [str(address) for address in session.scalars(query)]


def forget_old_counts(session: Session) -> None:
    """Clear the counting records of another `COUNTS_VERSION` (to be rebuilt, or gone if nothing is counted);
    writes nothing when there are none."""
    old = CustomerKey.counts_version != COUNTS_VERSION
    if session.scalar(select(select(CustomerKey.customer).where(old).exists())):
        cleared = dict.fromkeys(("counts_version", *COUNTED_CATEGORIES.values()))
        session.execute(
            update(CustomerKey).where(old).values(cleared), execution_options={"synchronize_session": False}
        )


def write_counts(session: Session, records: Sequence[Mapping[str, Any]]) -> None:
    """Store counting records {"customer", "counts_version", one key per counted column} in the customers'
    key rows (which exist: a key is made before any field)."""
    session.execute(update(CustomerKey), list(records))


KEY_COLUMNS = (CustomerKey.customer, CustomerKey.wrapped_key, CustomerKey.key_version, CustomerKey.master_key_id)


def upsert_fields(session: Session) -> Any:
    """INSERT of field rows that overwrites an existing (customer, field) in place (its created_at kept)."""
    stmt = _insert(session, CustomerField)
    keep = ("category", "nonce", "ciphertext", "updated_at")
    return stmt.on_conflict_do_update(
        index_elements=[CustomerField.customer, CustomerField.field], set_={name: stmt.excluded[name] for name in keep}
    )


def lock_customers(session: Session, addresses: Sequence[str], now: datetime) -> list[tuple[str, datetime | None]]:
    """(address, erased_at) of each of `addresses` (sorted), inserted when missing (ON CONFLICT DO NOTHING:
    race-free on both backends) and locked in that order, so two batches never deadlock."""
    stmt = _insert(session, Customer)
    rows = [{"address": address, "created_at": now} for address in addresses]
    session.execute(stmt.on_conflict_do_nothing(index_elements=[Customer.address]), rows)
    query = (
        select(Customer.address, Customer.erased_at)
        .where(Customer.address.in_(addresses))
        .order_by(Customer.address)
        .with_for_update()
    )
    return [(str(address), erased_at) for address, erased_at in session.execute(query)]


def lock_customer(session: Session, address: str, now: datetime) -> Customer:
    """The customer's row, inserted if missing (ON CONFLICT DO NOTHING: race-free on both backends) and locked.

    On PostgreSQL the row lock serialises concurrent writes and erasure of one customer until commit.
    """
    stmt = _insert(session, Customer).values(address=address, created_at=now)
    session.execute(stmt.on_conflict_do_nothing(index_elements=[Customer.address]))
    return session.execute(select(Customer).where(Customer.address == address).with_for_update()).scalar_one()


def _insert(session: Session, table: type[Customer] | type[CustomerField]) -> Any:
    """The dialect's INSERT (both have ON CONFLICT): SQLite's or PostgreSQL's."""
    return (sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert)(table)
