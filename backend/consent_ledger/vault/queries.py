"""The vault's SQL: the columns its reads select (plain rows, no ORM objects), the dialect's upserts, and
the customer-row locks that serialise writes and erasure. No encryption here: `store` decrypts what these read."""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

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
