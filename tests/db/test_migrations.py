"""Migrations on real SQLite and PostgreSQL: empty -> head, idempotent, tables present, models in sync.

Later revisions (0002_... by other modules) extend the chain: these tests hold for whatever the head is.
"""

from __future__ import annotations

import importlib
import itertools

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

import consent_ledger.vault.models  # noqa: F401  (registers the vault tables)
from consent_ledger.db.base import Base
from consent_ledger.db.engine import make_engine
from consent_ledger.db.migrate import (
    MIGRATIONS_DIR,
    MODEL_MODULES,
    alembic_config,
    current_revision,
    head_revision,
    upgrade,
)

VAULT_TABLES = {"customers", "customer_keys", "customer_fields"}
ADDRESS = "0x00000000000000000000000000000000000000aA"


def test_the_chain_is_linear_from_0001_vault() -> None:
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    chain = list(script.walk_revisions("base", "heads"))  # newest first
    assert chain[0].revision == head_revision()
    assert chain[-1].revision == "0001_vault"
    assert chain[-1].down_revision is None
    for newer, older in itertools.pairwise(chain):
        assert newer.down_revision == older.revision, f"{newer.revision} must revise {older.revision} only"
    for revision in chain:
        assert revision.module.__file__ is not None
        assert revision.module.__file__.endswith(f"/{revision.revision}.py"), "file name = revision id"


def test_upgrade_empty_database_reaches_head(db_url: str) -> None:
    assert current_revision(db_url) is None
    upgrade(db_url)
    assert current_revision(db_url) == head_revision()


def test_upgrade_twice_is_a_no_op(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO customers (address, created_at) VALUES (:a, CURRENT_TIMESTAMP)"), {"a": ADDRESS}
            )
        upgrade(db_url)
        assert current_revision(db_url) == head_revision()
        with engine.connect() as connection:
            assert connection.execute(text("SELECT address FROM customers")).scalars().all() == [ADDRESS]
    finally:
        engine.dispose()


def test_the_vault_revision_alone(db_url: str) -> None:
    upgrade(db_url, "0001_vault")
    assert current_revision(db_url) == "0001_vault"
    engine = make_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) >= VAULT_TABLES
    finally:
        engine.dispose()


def test_tables_exist_and_match_the_models(migrated_url: str) -> None:
    for module in MODEL_MODULES:  # every model the migrations must cover
        importlib.import_module(module)
    engine = make_engine(migrated_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert VAULT_TABLES | {"alembic_version"} <= tables
        assert set(Base.metadata.tables) <= tables
        with engine.connect() as connection:
            diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diffs == [], f"the models and the migrations disagree: {diffs}"
    finally:
        engine.dispose()


def test_constraints_follow_the_naming_convention(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    try:
        inspector = inspect(engine)
        foreign_keys = {
            fk["name"] for table in ("customer_keys", "customer_fields") for fk in inspector.get_foreign_keys(table)
        }
        assert foreign_keys == {"fk_customer_keys_customer_customers", "fk_customer_fields_customer_customers"}
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(migrated_url: str) -> None:
    command.downgrade(alembic_config(migrated_url), "base")
    assert current_revision(migrated_url) is None
    engine = make_engine(migrated_url)
    try:
        assert not VAULT_TABLES & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    upgrade(migrated_url)
    assert current_revision(migrated_url) == head_revision()
