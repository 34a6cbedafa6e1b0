"""The backend from the command line: brand, seed, relay, and login against a live server."""

from __future__ import annotations

import json

import pytest
from eth_account import Account

from api_support import api_settings
from consent_ledger.api.app import create_app
from consent_ledger.chain.devnet import free_port
from consent_ledger.cli.main import main
from consent_ledger.composition import build_context
from consent_ledger.services.demo import BRANDS, demo_account, seed
from live_server import app_in_thread

pytestmark = pytest.mark.chain


@pytest.fixture
def env(chain, tmp_path, monkeypatch: pytest.MonkeyPatch):
    database = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("CONSENT_RPC_URL", chain.rpc.url)
    monkeypatch.setenv("CONSENT_DEPLOYMENTS_DIR", str(chain.deployments_dir))
    monkeypatch.setenv("CONSENT_DATABASE_URL", database)
    monkeypatch.setenv("CONSENT_VAR_DIR", str(tmp_path / "var"))
    assert main(["db", "upgrade"]) == 0
    return database


def test_brand_add_and_list(env, capsys) -> None:
    assert main(["brand", "add", "0x" + "ab" * 20, "Ab Corp"]) == 0
    assert main(["brand", "list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert list(listed.values()) == ["Ab Corp"]
    assert main(["brand", "add", "0x1234", "Bad"]) == 1
    assert "0x1234" in capsys.readouterr().err


def test_seed_is_idempotent_and_relays(chain, env, tmp_path) -> None:
    context = build_context(api_settings(chain, env, tmp_path))
    try:
        first = seed(context, customers=6)
        assert set(first.brands) == {label for label, _ in BRANDS}
        assert first.submissions > 0
        counts = context.outbox.counts()
        assert counts == {"confirmed": first.submissions}
        again = seed(context, customers=6)
        assert again.submissions == 0
        customer = demo_account("customer 0").address
        assert context.vault.get_fields(customer)["email"].category == "contact.email"
        granted = [b for b in first.brands.values() if context.ledger.grant_of(customer, b).expires_at]
        assert len(granted) == sum(1 for g in context.consents.grants(customer))
    finally:
        context.close()


def test_relay_command_drains_the_outbox(chain, env, tmp_path, capsys) -> None:
    context = build_context(api_settings(chain, env, tmp_path))
    try:
        brand = context.brands.add(demo_account("brand acme").address, "Acme")
        customer = demo_account("customer 42")
        typed = context.consents.grant_typed_data(customer.address, brand, [("marketing.email", ["contact.email"])])
        signature = "0x" + Account.sign_typed_data(customer.key, full_message=typed).signature.hex()
        submission, _ = context.consents.submit(customer.address, "grant", typed["message"], signature)
    finally:
        context.close()
    assert main(["relay"]) == 0
    assert "'confirmed': 1" in capsys.readouterr().err
    context = build_context(api_settings(chain, env, tmp_path))
    try:
        assert context.outbox.get(submission.id).status == "confirmed"
    finally:
        context.close()


def test_login_against_a_running_api(chain, env, tmp_path, capsys) -> None:
    port = free_port()
    settings = api_settings(chain, env, tmp_path, api_port=port, siwe_domain=f"127.0.0.1:{port}")
    app = create_app(settings, run_relayer=False)
    with app_in_thread(app, port):
        app.state.context.brands.add(demo_account("brand acme").address, "Acme")
        assert main(["login", "--api", f"http://127.0.0.1:{port}", "--demo", "acme"]) == 0
        captured = capsys.readouterr()
        token = captured.out.strip()
        assert "brand" in captured.err
        principal = app.state.context.auth.authenticate(token)
        assert principal.address == demo_account("brand acme").address
        assert main(["login", "--api", f"http://127.0.0.1:{port}", "--demo", "nobody"]) == 1
        assert main(["login", "--api", f"http://127.0.0.1:{free_port()}", "--demo", "acme"]) == 1
