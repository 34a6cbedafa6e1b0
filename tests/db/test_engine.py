"""make_engine: URL handling for both backends and the SQLite connection settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from consent_ledger.db.engine import make_engine, normalize_url
from consent_ledger.errors import ConfigError


@pytest.mark.parametrize(
    "url",
    ["postgresql://u:p@db:5432/x", "postgres://u:p@db:5432/x", "postgresql+psycopg://u:p@db:5432/x"],
)
def test_postgres_urls_use_psycopg3(url: str) -> None:
    parsed = normalize_url(url)
    assert parsed.drivername == "postgresql+psycopg"
    assert (parsed.host, parsed.database, parsed.username) == ("db", "x", "u")


@pytest.mark.parametrize("url", ["mysql://u:secret@h/x", "not a url"])
def test_other_urls_are_refused_without_leaking_passwords(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        normalize_url(url)
    assert "secret" not in str(caught.value)


def test_sqlite_file_gets_its_folder_foreign_keys_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "deeper" / "x.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            connection.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
            connection.execute(text("CREATE TABLE child (id INTEGER PRIMARY KEY, p INTEGER REFERENCES parent(id))"))
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text("INSERT INTO child (id, p) VALUES (1, 42)"))
        assert path.exists()
    finally:
        engine.dispose()


def test_postgres_engine_connects(pg_database: str) -> None:
    engine = make_engine(pg_database)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
        assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()
