"""Building SQLAlchemy engines and session factories from a database URL (SQLite or PostgreSQL).

SQLite (development, tests): foreign keys on, WAL journal, `secure_delete` so erased rows are overwritten on
disk, and the parent folder of a file database is created. PostgreSQL (production): always the psycopg 3 driver;
`postgresql://` and `postgres://` URLs are rewritten to `postgresql+psycopg://`. Nothing is built at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.errors import ConfigError

_PG_ALIASES = ("postgresql", "postgres", "postgresql+psycopg")
_SQLITE_PRAGMAS = ("PRAGMA foreign_keys=ON", "PRAGMA journal_mode=WAL", "PRAGMA secure_delete=ON")


def normalize_url(url: str) -> URL:
    """`url` parsed, with PostgreSQL on the psycopg 3 driver; `ConfigError` for anything but SQLite/PostgreSQL."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise ConfigError(f"cannot parse database URL {url!r}: expected sqlite:///path or postgresql://...") from error
    if parsed.drivername in _PG_ALIASES:
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        return parsed
    shown = parsed.render_as_string(hide_password=True)
    raise ConfigError(f"unsupported database URL {shown}: use sqlite:///path/to/file.db or postgresql://...")


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for `url` (see the module docstring for what each backend gets)."""
    parsed = normalize_url(url)
    if not is_sqlite(parsed):
        return create_engine(parsed, echo=echo, pool_pre_ping=True)
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, echo=echo)
    event.listen(engine, "connect", _sqlite_on_connect)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    """Run on every new SQLite connection: SQLite forgets these settings between connections."""
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to `engine`; objects stay readable after commit (`expire_on_commit=False`)."""
    return sessionmaker(bind=engine, expire_on_commit=False)
