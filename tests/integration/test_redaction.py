"""An API key in CONSENT_RPC_URL never shows: not in /v1/health, not in problems, not in the log, not in the CLI."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from api_support import Api, api_settings
from consent_ledger.api.app import create_app
from consent_ledger.cli.main import main
from consent_ledger.redaction import redact_text, redact_url
from tcp_gate import TcpGate

pytestmark = pytest.mark.chain
PASSWORD = "pw-c0ffee"
KEY = "9aa3d95b3bc440fa88ea12eaa4456161"
QUERY_KEY = "qk-deadbeef"
SECRETS = (PASSWORD, KEY, QUERY_KEY)


def _secret_url(port: int, path: str = "/") -> str:
    return f"http://alice:{PASSWORD}@127.0.0.1:{port}{path}?apikey={QUERY_KEY}"


def _clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_redact_url_keeps_what_finds_the_node() -> None:
    assert redact_url("http://127.0.0.1:8545") == "http://127.0.0.1:8545"
    assert redact_url(_secret_url(8545, f"/v3/{KEY}")) == "http://***@127.0.0.1:8545/v3/***?apikey=***"
    assert redact_url("https://KEY@node.example/") == "https://***@node.example/"
    assert redact_url("https://node.example/rpc#token") == "https://node.example/rpc#***"
    assert redact_url("not a url") == "***"
    text = redact_text(f"no answer from {_secret_url(1)}: refused. Retry {_secret_url(2, f'/{KEY}')}.")
    assert (
        text
        == "no answer from http://***@127.0.0.1:1/?apikey=***: refused. Retry http://***@127.0.0.1:2/***?apikey=***."
    )


def test_no_secret_of_the_rpc_url_leaves_the_server(chain, db_url, tmp_path, caplog) -> None:
    gate = TcpGate(urlsplit(chain.rpc.url).port)
    settings = api_settings(chain, db_url, tmp_path, rpc_url=_secret_url(gate.port))
    app = create_app(settings, run_relayer=False)
    caplog.set_level(logging.INFO)
    with TestClient(app) as client:
        api = Api(client, app.state.context)
        _brand, auth = api.brand()
        healthy = client.get("/v1/health").json()
        assert healthy["chain"]["ok"] is True
        gate.close()  # the node is now out of reach
        health = client.get("/v1/health")
        assert health.json()["chain"]["ok"] is False
        assert "http://***@127.0.0.1" in health.json()["chain"]["error"]
        check = client.post(
            "/v1/permissions/check",
            json={
                "questions": [
                    {"customer": "0x" + "11" * 20, "categories": ["contact.email"], "purpose": "marketing.email"}
                ]
            },
            headers=auth,
        )
        assert check.status_code == 503
        assert "127.0.0.1" in check.json()["detail"]
        api.context.start_workers()  # the workers retry and log each failure
        time.sleep(1.5)
        api.context.relayer.stop()
        api.context.anchorer.stop()
        api.context.indexer.stop()
        _clean(health.text)
        _clean(check.text)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "127.0.0.1" in logged  # the failures were logged...
    _clean(logged)  # ...without the secrets


def test_the_cli_does_not_print_them(chain, tmp_path, monkeypatch, capsys) -> None:
    gate = TcpGate(urlsplit(chain.rpc.url).port)
    gate.close()
    monkeypatch.setenv("CONSENT_RPC_URL", _secret_url(gate.port))
    monkeypatch.setenv("CONSENT_DEPLOYMENTS_DIR", str(chain.deployments_dir))
    monkeypatch.setenv("CONSENT_VAR_DIR", str(tmp_path / "var"))
    assert main(["status"]) == 1
    assert main(["brand", "list"]) == 1
    output = capsys.readouterr()
    assert output.err.count("127.0.0.1") >= 2
    _clean(output.out + output.err)
