"""The declarative `Base` every table derives from, with a constraint naming convention.

Named constraints keep Alembic migrations identical on SQLite and PostgreSQL (SQLite batch mode needs names to
drop or alter a constraint). Keep generated names under PostgreSQL's 63-character identifier limit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, MetaData
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# The largest value an Integer and a BigInteger column hold on every backend (PostgreSQL INTEGER / BIGINT;
# SQLite takes up to 64 bits). A number from a caller past its column's range names no row: look-ups
# check it first, so the database never sees it (PostgreSQL would fail the query, SQLite overflow).
INTEGER_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Root of every ORM model; its `metadata` names constraints by `NAMING_CONVENTION`."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite hands back naive values; we mark them UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UtcDateTime needs a timezone-aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (the default clock of anything that stamps rows)."""
    return datetime.now(UTC)
