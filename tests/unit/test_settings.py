"""Settings: environment parsing, defaults, and the production guard against development secrets."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from consent_ledger.chain.keystore import create_keystore
from consent_ledger.composition import relayer_key
from consent_ledger.config import ANVIL_RELAYER_KEY, Settings
from consent_ledger.errors import ConfigError

REAL = {
    "master_key": SecretStr("q" * 43 + "="),
    "token_secret": SecretStr("a-long-random-production-secret-0123456789abcdef"),
    "relayer_key": SecretStr("0x" + "7e" * 32),
    "database_url": "postgresql://consent@db/consent",
    "webhook_signing_key": SecretStr("w" * 43 + "="),
}


def test_env_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENT_AUDITORS", " 0xAbc , 0xdef,")
    monkeypatch.setenv("CONSENT_RELAYER_BATCH_SIZE", "120")
    settings = Settings()
    assert settings.auditors == ["0xAbc", "0xdef"]
    assert settings.relayer_batch_size == 120
    assert settings.database_url is None  # an SQLite file per deployment, chosen at start-up
    assert settings.master_key is None  # generated for this installation at start-up (local_secrets)
    assert settings.token_secret is None
    monkeypatch.setenv("CONSENT_MASTER_KEY", "q" * 43 + "=")
    assert "q" * 43 not in repr(Settings())


def test_generated_secrets_are_fine_in_development() -> None:
    Settings(env="development").check_production()


@pytest.mark.parametrize(
    "dev_value",
    ["master_key", "token_secret", "relayer_key", "database_url", "webhook_signing_key", "dev_destinations"],
)
def test_production_refuses_each_development_default(dev_value: str) -> None:
    values = dict(REAL)
    if dev_value == "relayer_key":
        values["relayer_key"] = SecretStr(ANVIL_RELAYER_KEY)
    elif dev_value == "database_url":
        del values["database_url"]
    elif dev_value == "dev_destinations":
        values["webhook_dev_destinations"] = True
    else:
        del values[dev_value]
    with pytest.raises(ConfigError, match="refusing to start in production"):
        Settings(env="production", **values).check_production()
    Settings(env="production", **REAL).check_production()


def test_relayer_key_sources(tmp_path) -> None:
    assert relayer_key(Settings(), 31337) == ANVIL_RELAYER_KEY
    with pytest.raises(ConfigError, match="CONSENT_RELAYER_KEYSTORE"):
        relayer_key(Settings(), 1)
    password = tmp_path / "pw"
    password.write_text("correct horse battery\n")
    account = create_keystore(tmp_path / "relayer.json", "correct horse battery")
    settings = Settings(relayer_keystore=tmp_path / "relayer.json", relayer_password_file=password)
    assert relayer_key(settings, 1) == "0x" + bytes(account.key).hex()


def test_sign_in_domains() -> None:
    assert Settings(api_host="127.0.0.1", api_port=8000).domains == ["127.0.0.1:8000", "localhost:8000"]
    assert Settings(api_host="0.0.0.0", api_port=9000).domains == ["0.0.0.0:9000", "127.0.0.1:9000", "localhost:9000"]
    assert Settings(siwe_domain="consent.example").domains == ["consent.example"]
