"""Roles are what the configuration and the database say at each request, whatever a token was issued with."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api_support import AUDITOR, Api, api_settings
from consent_ledger.api.app import create_app
from consent_ledger.cli.main import main

pytestmark = pytest.mark.chain


def test_an_unregistered_brand_loses_access_at_once(api, monkeypatch, chain, db_url, tmp_path) -> None:
    brand, auth = api.brand("Soon Gone")
    assert api.client.get("/v1/releases", headers=auth).status_code == 200
    assert api.client.get("/v1/auth/me", headers=auth).json()["roles"] == ["brand", "customer"]
    monkeypatch.setenv("CONSENT_RPC_URL", chain.rpc.url)
    monkeypatch.setenv("CONSENT_DEPLOYMENTS_DIR", str(chain.deployments_dir))
    monkeypatch.setenv("CONSENT_DATABASE_URL", db_url)
    monkeypatch.setenv("CONSENT_VAR_DIR", str(tmp_path / "var"))
    assert main(["brand", "remove", brand.address]) == 0  # from the command line, as an operator would
    reply = api.client.get("/v1/releases", headers=auth)  # the same token, not expired
    assert reply.status_code == 403, reply.text
    assert "needs the brand role" in reply.json()["detail"]
    assert api.client.get("/v1/auth/me", headers=auth).json()["roles"] == ["customer"]
    assert api.client.get("/v1/me/grants", headers=auth).status_code == 200  # still a customer
    assert main(["brand", "remove", brand.address]) == 1  # not registered any more


def test_an_auditor_removed_from_the_configuration_loses_access_at_once(chain, db_url, tmp_path) -> None:
    with TestClient(create_app(api_settings(chain, db_url, tmp_path), run_relayer=False)) as client:
        auth = Api(client, client.app.state.context).sign_in(AUDITOR)
        assert client.get("/v1/audit/history", headers=auth).status_code == 200
    restarted = create_app(api_settings(chain, db_url, tmp_path, auditors=[]), run_relayer=False)
    with TestClient(restarted) as client:  # same database, same token secret, CONSENT_AUDITORS now empty
        reply = client.get("/v1/audit/history", headers=auth)
        assert reply.status_code == 403, reply.text
        assert client.get("/v1/auth/me", headers=auth).json()["roles"] == ["customer"]
