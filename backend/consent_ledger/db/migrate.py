"""Running the packaged Alembic migrations from code: `upgrade(url)` to head, and reading revisions.

The Alembic `Config` is built here, pointing at the `migrations/` folder next to this file, so nothing depends on
the current directory or on `alembic.ini`. The URL travels to `migrations/env.py` as `config.attributes["url"]`.
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from consent_ledger.db.engine import make_engine, normalize_url
from consent_ledger.errors import ConfigError

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
URL_ATTRIBUTE = "url"
# Alembic keeps its migration context in module globals: one migration at a time per process.
_ALEMBIC_LOCK = threading.Lock()

# Every module that defines tables; the migrations must create exactly these (a test compares them).
MODEL_MODULES = (
    "consent_ledger.db.binding",
    "consent_ledger.vault.models",
    "consent_ledger.auth.models",
    "consent_ledger.brands.models",
    "consent_ledger.apikeys.models",
    "consent_ledger.webhooks.models",
    "consent_ledger.leases.models",
    "consent_ledger.sender.models",
    "consent_ledger.relayer.models",
    "consent_ledger.releases.models",
    "consent_ledger.insights.models",
    "consent_ledger.propagation.models",
    "consent_ledger.indexer.models",
    "consent_ledger.audit.models",
)


def alembic_config(url: str) -> Config:
    """An Alembic config for `url` that runs the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.attributes[URL_ATTRIBUTE] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` to `revision` (default: the latest). A no-op when already there.

    Safe to call from several threads (serialised here) and several processes (PostgreSQL: an advisory lock).
    """
    with _ALEMBIC_LOCK:
        command.upgrade(alembic_config(url), revision)


def head_revision() -> str:
    """The revision the packaged migrations end at (the chain is linear: exactly one head)."""
    heads = ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migration chain must have exactly one head, found {heads}")
    return heads[0]


def current_revision(url: str) -> str | None:
    """The revision the database at `url` is at; None when it was never migrated."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def require_current(url: str) -> None:
    """Refuse a database whose schema is not this version's (never migrated, older, or newer)."""
    current, head = current_revision(url), head_revision()
    if current == head:
        return
    shown = normalize_url(url).render_as_string(hide_password=True)
    if current is None:
        raise ConfigError(
            f"the database {shown} has no schema yet: run `consent-ledger db upgrade` (with the same settings) first"
        )
    known = {script.revision for script in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()}
    if current not in known:
        raise ConfigError(
            f"the database {shown} is at schema {current}, which this version does not know (a newer version "
            f"migrated it; this one ends at {head}): run the newer version"
        )
    raise ConfigError(
        f"the database {shown} is at schema {current}, this version needs {head}: run `consent-ledger db upgrade`"
    )
