"""Encrypted keystore files: round trip, wrong password, no overwrite, permissions."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from eth_account import Account

from consent_ledger.chain.keystore import (
    MIN_PASSWORD,
    create_keystore,
    keystore_address,
    load_keystore,
    read_password,
)
from consent_ledger.errors import KeystoreError

PASSWORD = "correct horse battery"
# anvil's third default key: public test material.
KNOWN_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"


@pytest.fixture(scope="module")
def keystore(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One keystore for the read-only tests (scrypt makes each creation cost ~0.5 s)."""
    path = tmp_path_factory.mktemp("keys") / "customer.json"
    account = create_keystore(path, PASSWORD)
    return path, account.address


def test_round_trip(keystore: tuple[Path, str]) -> None:
    path, address = keystore
    loaded = load_keystore(path, PASSWORD)
    assert loaded.address == address


def test_given_key_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "known.json"
    created = create_keystore(path, PASSWORD, KNOWN_KEY)
    assert created.address == Account.from_key(KNOWN_KEY).address
    loaded = load_keystore(path, PASSWORD)
    assert loaded.key == bytes.fromhex(KNOWN_KEY[2:])
    # The private key is not stored in the clear.
    assert KNOWN_KEY[2:] not in path.read_text()


def test_wrong_password_is_refused(keystore: tuple[Path, str]) -> None:
    path, _ = keystore
    with pytest.raises(KeystoreError, match="wrong password"):
        load_keystore(path, PASSWORD + "!")


def test_refuses_to_overwrite(keystore: tuple[Path, str]) -> None:
    path, address = keystore
    before = path.read_bytes()
    with pytest.raises(KeystoreError, match="refusing to overwrite"):
        create_keystore(path, PASSWORD)
    assert path.read_bytes() == before
    assert load_keystore(path, PASSWORD).address == address


def test_short_password_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "short.json"
    with pytest.raises(KeystoreError, match=str(MIN_PASSWORD)):
        create_keystore(path, "x" * (MIN_PASSWORD - 1))
    assert not path.exists()


def test_file_is_private(keystore: tuple[Path, str]) -> None:
    path, _ = keystore
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_address_without_decrypting(keystore: tuple[Path, str]) -> None:
    path, address = keystore
    assert keystore_address(path).lower() == address.lower()
    assert keystore_address(path).startswith("0x")


def test_address_of_a_file_that_is_no_keystore(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(KeystoreError):
        keystore_address(missing)
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"version": 3}))
    with pytest.raises(KeystoreError, match="no address"):
        keystore_address(empty)


def test_load_missing_and_garbage(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="account new"):
        load_keystore(tmp_path / "missing.json", PASSWORD)
    garbage = tmp_path / "garbage.json"
    garbage.write_text("not json")
    with pytest.raises(KeystoreError, match="not a keystore"):
        load_keystore(garbage, PASSWORD)


def test_password_file_first_line(tmp_path: Path) -> None:
    file = tmp_path / "password.txt"
    file.write_text(f"{PASSWORD}\nignored second line\n")
    assert read_password(file) == PASSWORD
    with pytest.raises(KeystoreError, match="cannot read password file"):
        read_password(tmp_path / "nope.txt")


@pytest.mark.parametrize("content", ["[]", "{}", '{"address": "00", "version": 3, "crypto": {"kdf": "scrypt"}}'])
def test_json_that_is_no_keystore(tmp_path: Path, content: str) -> None:
    """E.g. a deployment record passed as --keystore: a KeystoreError, not a KeyError traceback."""
    path = tmp_path / "deployment.json"
    path.write_text(content)
    with pytest.raises(KeystoreError, match="not a keystore"):
        load_keystore(path, PASSWORD)
