"""Column types shared by the tables.

`Uint64`: an unsigned 64-bit integer (category/purpose masks, sizes) as NUMERIC(20, 0), exact on
every backend. SQLite has no exact type for numbers >= 2**63 (and SQLAlchemy binds Numeric through
float there, losing precision above 2**53), so on SQLite it is stored as the two's-complement int64
and read back unsigned.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Dialect, Numeric
from sqlalchemy.types import TypeDecorator, TypeEngine

TWO_63 = 2**63
TWO_64 = 2**64


class _ExactNumeric(Numeric[Decimal]):
    """NUMERIC in DDL, but values pass to the driver untouched (no float conversion)."""

    def bind_processor(self, dialect: Dialect) -> None:
        return None

    def result_processor(self, dialect: Dialect, coltype: object) -> None:
        return None


class Uint64(TypeDecorator[int]):
    """An unsigned 64-bit integer as NUMERIC(20, 0), exact on every backend; Python `int` in and out."""

    impl = Numeric(20, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return _ExactNumeric(20, 0)
        return dialect.type_descriptor(Numeric(20, 0))

    def process_bind_param(self, value: int | Decimal | None, dialect: Dialect) -> int | Decimal | None:
        if value is None:
            return None
        number = int(value)
        if not 0 <= number < TWO_64:
            raise ValueError(f"{number} is not a uint64")
        if dialect.name == "sqlite":
            return number - TWO_64 if number >= TWO_63 else number
        return number

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        number = int(value)
        return number + TWO_64 if number < 0 else number
