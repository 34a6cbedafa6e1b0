"""Alembic environment: runs the migrations online against the URL handed over by `consent_ledger.db.migrate`.

The URL comes from `config.attributes["url"]` (set by `migrate.upgrade`) or, for the alembic CLI, from
`-x url=...`; never from alembic.ini. SQLite gets batch mode (ALTER through table copies). On PostgreSQL an
advisory lock serialises concurrent upgrades (several app instances starting at once).
"""

from __future__ import annotations

import importlib

from alembic import context
from sqlalchemy import text

from consent_ledger.db.base import Base
from consent_ledger.db.engine import is_sqlite, make_engine, normalize_url

# Modules defining ORM models: imported so Base.metadata knows every table (autogenerate, `alembic check`).
# Add yours here when you add a revision for new tables.
from consent_ledger.db.migrate import MODEL_MODULES
from consent_ledger.errors import ConfigError

# Any 64-bit constant unique to this application: the key of the PostgreSQL advisory lock held while migrating.
_MIGRATION_LOCK_KEY = 0x436F6E73656E74


def _url() -> str:
    url = context.config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise ConfigError(
            "no database URL for the migrations: call consent_ledger.db.migrate.upgrade(url), "
            "or pass -x url=... to the alembic CLI"
        )
    return str(url)


def run_migrations_online() -> None:
    for module in MODEL_MODULES:
        importlib.import_module(module)
    url = _url()
    sqlite = is_sqlite(normalize_url(url))
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=sqlite,
                compare_type=True,
            )
            with context.begin_transaction():
                if not sqlite:
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise ConfigError("offline (--sql) migrations are not supported: run them against a database")
run_migrations_online()
