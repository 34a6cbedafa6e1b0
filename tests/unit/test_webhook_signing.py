"""Signing webhooks: the headers our server sends verify with the brands' client (both kinds), with the
standardwebhooks package (v1), and with the published public key (v1a) alone; an altered body, a wrong
secret or another installation's key fail. The installation key is made once under var/secrets (0600),
kept, refused when others may read it, and taken from CONSENT_WEBHOOK_SIGNING_KEY when set (production
must set it). Endpoint secrets are sealed under the vault master key and bound to their row."""

from __future__ import annotations

import base64
import os
import stat
import time
from pathlib import Path

import pytest
from pydantic import SecretStr
from standardwebhooks import Webhook, WebhookVerificationError

from consent_ledger.client import WebhookRejectedError, WebhookVerifier
from consent_ledger.config import Settings
from consent_ledger.errors import ConfigError
from consent_ledger.vault import MasterKey
from consent_ledger.vault.errors import TamperedError
from consent_ledger.webhooks.sealing import SECRET_BYTES, new_secret, seal, unseal
from consent_ledger.webhooks.signing import SigningKey, load_signing_key, published_keys, signature_headers

EVENT_ID = "evt_" + "cd" * 32
BODY = (
    b'{"type":"consent.revoked","timestamp":"2026-12-02T08:00:01+00:00","data":{"event_id":"'
    + EVENT_ID.encode()
    + b'","customer":"0x1111111111111111111111111111111111111111","brand":"0x2222222222222222222222222222222222222222",'
    b'"occurred_at":"2026-12-02T08:00:00+00:00","block_number":7,"tx_hash":null}}'
)


def _headers(secrets: list[str], key: SigningKey, body: bytes = BODY) -> dict[str, str]:
    return signature_headers(EVENT_ID, int(time.time()), body, secrets, key)


def test_the_headers_verify_with_the_client_and_with_standardwebhooks() -> None:
    key, secret = SigningKey.generate(), new_secret()
    headers = _headers([secret], key)
    assert headers["webhook-id"] == EVENT_ID
    assert [s.split(",")[0] for s in headers["webhook-signature"].split(" ")] == ["v1", "v1a"]
    verified = WebhookVerifier(secrets=[secret], public_keys=[key.public_key]).verify(BODY, headers)
    assert (verified.id, verified.event.type, verified.event.data.block_number) == (EVENT_ID, "consent.revoked", 7)
    assert WebhookVerifier(public_keys=[key.public_key]).verify(BODY, headers).id == EVENT_ID
    assert Webhook(secret).verify(BODY, headers)["data"]["event_id"] == EVENT_ID


def test_during_a_rotation_either_secret_verifies() -> None:
    key, old, new = SigningKey.generate(), new_secret(), new_secret()
    headers = _headers([new, old], key)
    assert headers["webhook-signature"].count("v1,") == 2
    for secret in (old, new):
        WebhookVerifier(secrets=[secret]).verify(BODY, headers)
        Webhook(secret).verify(BODY, headers)


def test_altered_bodies_wrong_secrets_and_other_keys_fail() -> None:
    key, secret = SigningKey.generate(), new_secret()
    headers = _headers([secret], key)
    altered = BODY.replace(b'"block_number":7', b'"block_number":8')
    with pytest.raises(WebhookRejectedError, match="v1 signature"):
        WebhookVerifier(secrets=[secret]).verify(altered, headers)
    with pytest.raises(WebhookRejectedError, match="v1a signature"):
        WebhookVerifier(public_keys=[key.public_key]).verify(altered, headers)
    with pytest.raises(WebhookRejectedError, match="v1 signature"):
        WebhookVerifier(secrets=[new_secret()]).verify(BODY, headers)
    with pytest.raises(WebhookRejectedError, match="v1a signature"):
        WebhookVerifier(public_keys=[SigningKey.generate().public_key]).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)


def test_the_published_keys_document() -> None:
    key = SigningKey(bytes(range(32)))
    (entry,) = published_keys(key)["keys"]
    assert entry == {"id": key.key_id, "alg": "ed25519", "public_key": key.public_key}
    assert len(base64.b64decode(key.public_key.removeprefix("whpk_"))) == 32
    assert len(key.key_id) == 16
    assert "whpk_" not in repr(key)
    assert base64.b64encode(bytes(range(32))).decode() not in repr(key)


def test_the_installation_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var")
    first = load_signing_key(settings)
    path = tmp_path / "var" / "secrets" / "webhook-signing-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_signing_key(settings).public_key == first.public_key
    os.chmod(path, 0o640)
    with pytest.raises(ConfigError, match="readable by others"):
        load_signing_key(settings)


def test_the_configured_key_wins_and_production_needs_one(tmp_path: Path) -> None:
    seed = base64.b64encode(bytes(range(32))).decode()
    configured = Settings(var_dir=tmp_path / "var", webhook_signing_key=SecretStr(seed))
    assert load_signing_key(configured).public_key == SigningKey(bytes(range(32))).public_key
    assert not (tmp_path / "var" / "secrets").exists()
    with pytest.raises(ConfigError, match="CONSENT_WEBHOOK_SIGNING_KEY is not set"):
        load_signing_key(Settings(var_dir=tmp_path / "var", env="production"))
    public = SigningKey.generate().public_key
    for bad, message in ((public, "public key"), ("not base64!", "base64 of a 32-byte"), ("AAAA", "32 bytes")):
        with pytest.raises(ConfigError, match=message):
            load_signing_key(Settings(var_dir=tmp_path / "var", webhook_signing_key=SecretStr(bad)))


def test_endpoint_secrets_are_sealed_and_bound_to_their_row() -> None:
    master, secret = MasterKey.generate(), new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == SECRET_BYTES
    sealed = seal(master, secret, "endpoint-a", "secret-1")
    assert secret.encode() not in sealed
    assert secret.removeprefix("whsec_").encode() not in sealed
    assert unseal(master, sealed, "endpoint-a", "secret-1") == secret
    for endpoint, row, key in (
        ("endpoint-b", "secret-1", master),
        ("endpoint-a", "secret-2", master),
        ("endpoint-a", "secret-1", MasterKey.generate()),
    ):
        with pytest.raises(TamperedError):
            unseal(key, sealed, endpoint, row)
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(TamperedError):
        unseal(master, flipped, "endpoint-a", "secret-1")
    with pytest.raises(TamperedError):
        unseal(master, b"short", "endpoint-a", "secret-1")
