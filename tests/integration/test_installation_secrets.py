"""No public secret is ever accepted: each installation makes its own, keeps them private, and refuses a vault
encrypted under another key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
import time
from datetime import UTC, datetime

import pytest
from eth_account import Account
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api_support import AUDITOR, PROFILE, api_settings
from consent_ledger.api.app import create_app
from consent_ledger.catalog import default_catalog
from consent_ledger.composition import build_context, open_storage
from consent_ledger.errors import ConfigError
from consent_ledger.local_secrets import load_secrets
from consent_ledger.vault import MasterKey, Vault

pytestmark = pytest.mark.chain
# What config.py shipped before: public, so they must open nothing any more.
OLD_TOKEN_SECRET = "dev-only-token-secret-change-me-in-production-0123456789"
OLD_MASTER_KEY = "ZGV2LW9ubHktbWFzdGVyLWtleS0zMi1ieXRlcy0hISE="


def _old_style_token(address: str, roles: list[str], secret: bytes) -> str:
    """A bearer token as anyone could make one with the secret config.py used to ship (the format then)."""
    now = int(time.time())
    payload = {"sub": address, "roles": roles, "iat": now, "exp": now + 900, "jti": "forged"}
    segment = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{segment}.{_b64(hmac.new(secret, segment.encode(), hashlib.sha256).digest())}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_token_signed_with_the_old_public_secret_opens_nothing(chain, db_url, tmp_path) -> None:
    forged = _old_style_token(AUDITOR.address, ["auditor", "customer"], OLD_TOKEN_SECRET.encode())
    app = create_app(api_settings(chain, db_url, tmp_path), run_relayer=False)
    with TestClient(app) as client:
        reply = client.get("/v1/audit/history", headers={"Authorization": f"Bearer {forged}"})
        assert reply.status_code == 401, reply.text
        assert "signed with another secret" in reply.json()["detail"]


def test_secrets_are_made_once_per_installation_and_kept_private(chain, db_url, tmp_path) -> None:
    settings = api_settings(chain, db_url, tmp_path)
    folder = tmp_path / "var" / "secrets"
    first = build_context(settings)
    try:
        token = first.auth.signer.issue(Account.create().address, datetime.now(UTC))
        first.vault.put_fields(AUDITOR.address, {"email": ("contact.email", PROFILE["email"]["value"])})
    finally:
        first.close()
    assert _mode(folder) == 0o700
    for name in ("token-secret", "master-key", "webhook-signing-key"):
        assert _mode(folder / name) == 0o600
        assert len(base64.b64decode((folder / name).read_text())) == 32
    again = build_context(settings)  # a restart reads the same secrets: tokens and data stay valid
    try:
        assert again.webhook_key.public_key == first.webhook_key.public_key
        assert again.auth.authenticate(token).address
        assert again.vault.get_fields(AUDITOR.address)["email"].value == PROFILE["email"]["value"]
    finally:
        again.close()
    other = load_secrets(api_settings(chain, db_url, tmp_path / "elsewhere"))  # another installation: other secrets
    assert other.token_secret != load_secrets(settings).token_secret


def test_the_old_public_values_are_refused_everywhere(chain, db_url, tmp_path) -> None:
    for env in ("development", "test"):
        with pytest.raises(ConfigError, match="public development secret"):
            build_context(api_settings(chain, db_url, tmp_path, env=env, token_secret=SecretStr(OLD_TOKEN_SECRET)))
        with pytest.raises(ConfigError, match="public development key"):
            build_context(api_settings(chain, db_url, tmp_path, env=env, master_key=SecretStr(OLD_MASTER_KEY)))


def test_production_needs_its_own_secrets(chain, db_url, tmp_path) -> None:
    settings = api_settings(chain, db_url, tmp_path, env="production")
    with pytest.raises(ConfigError, match="CONSENT_MASTER_KEY is not set"):
        build_context(settings)
    assert not (tmp_path / "var" / "secrets").exists()  # nothing generated for production


def test_a_secret_file_others_can_read_is_refused(chain, db_url, tmp_path) -> None:
    settings = api_settings(chain, db_url, tmp_path)
    load_secrets(settings)
    path = tmp_path / "var" / "secrets" / "token-secret"
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        load_secrets(settings)


def test_a_vault_made_under_another_master_key_is_refused_clearly(chain, db_url, tmp_path) -> None:
    old = build_context(
        api_settings(chain, db_url, tmp_path, master_key=SecretStr(base64.b64encode(os.urandom(32)).decode()))
    )
    try:
        old.vault.put_fields(AUDITOR.address, {"email": ("contact.email", "ada@example.org")})
        old_id = old.vault.master_key_id
    finally:
        old.close()
    with pytest.raises(ConfigError) as refused:  # the generated key of this installation cannot read that data
        build_context(api_settings(chain, db_url, tmp_path))
    message = str(refused.value)
    assert f"encrypted under master key {old_id}" in message
    assert "delete that database" in message
    assert "CONSENT_MASTER_KEY" in message


def test_a_developer_database_from_the_old_public_key_is_named_as_such(chain, db_url, tmp_path) -> None:
    """A var/ database written by an earlier version (under the public key) is refused with the way out."""
    storage = open_storage(api_settings(chain, db_url, tmp_path))
    try:
        Vault(storage.sessions, MasterKey.from_string(OLD_MASTER_KEY), default_catalog()).put_fields(
            AUDITOR.address, {"email": ("contact.email", "ada@example.org")}
        )
    finally:
        storage.close()
    with pytest.raises(ConfigError, match=r"the public development key of earlier versions\), not under"):
        build_context(api_settings(chain, db_url, tmp_path))
