"""Migrations are explicit: `consent-ledger db upgrade` migrates, everything else (serve included) refuses
a database whose schema is not this version's, saying what to run."""

from __future__ import annotations

import json

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import text

from api_support import api_settings
from consent_ledger.api.app import create_app
from consent_ledger.cli.main import main
from consent_ledger.composition import build_context
from consent_ledger.db.engine import make_engine
from consent_ledger.db.migrate import alembic_config, current_revision, head_revision
from consent_ledger.errors import ConfigError

pytestmark = pytest.mark.chain


@pytest.fixture
def cli_env(chain, db_url, tmp_path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CONSENT_RPC_URL", chain.rpc.url)
    monkeypatch.setenv("CONSENT_DEPLOYMENTS_DIR", str(chain.deployments_dir))
    monkeypatch.setenv("CONSENT_DATABASE_URL", db_url)
    monkeypatch.setenv("CONSENT_VAR_DIR", str(tmp_path / "var"))
    return db_url


def test_serve_refuses_a_database_without_a_schema(chain, db_url, tmp_path) -> None:
    settings = api_settings(chain, db_url, tmp_path, migrate=False)
    with pytest.raises(ConfigError, match=r"has no schema yet: run `consent-ledger db upgrade`"):
        build_context(settings)
    with pytest.raises(ConfigError, match="db upgrade"), TestClient(create_app(settings, run_relayer=False)):
        pass
    assert current_revision(db_url) is None  # nothing was created


def test_serve_refuses_an_older_schema_and_db_upgrade_fixes_it(cli_env, chain, tmp_path, capsys) -> None:
    command.upgrade(alembic_config(cli_env), "0005_audit_log")
    settings = api_settings(chain, cli_env, tmp_path, migrate=False)
    with pytest.raises(ConfigError, match=f"is at schema 0005_audit_log, this version needs {head_revision()}"):
        build_context(settings)
    assert current_revision(cli_env) == "0005_audit_log"

    assert main(["db", "status"]) == 1
    status = json.loads(capsys.readouterr().out)
    assert (status["current"], status["head"], status["up_to_date"]) == ("0005_audit_log", head_revision(), False)

    assert main(["db", "upgrade"]) == 0
    assert current_revision(cli_env) == head_revision()
    assert main(["db", "upgrade"]) == 0  # idempotent
    assert main(["db", "status"]) == 0
    build_context(settings).close()


def test_a_newer_schema_is_refused(cli_env, chain, tmp_path) -> None:
    assert main(["db", "upgrade"]) == 0
    engine = make_engine(cli_env)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    engine.dispose()
    with pytest.raises(ConfigError, match="which this version does not know"):
        build_context(api_settings(chain, cli_env, tmp_path, migrate=False))
