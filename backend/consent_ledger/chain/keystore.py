"""Encrypted eth-account keystore files (Web3 Secret Storage v3): a customer's key never leaves them."""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from consent_ledger.errors import KeystoreError

MIN_PASSWORD = 8


def read_password(password_file: Path | None, confirm: bool = False) -> str:
    """From a file (first line, for scripts) or a prompt that does not echo."""
    if password_file is not None:
        try:
            lines = password_file.read_text().splitlines()
        except OSError as exc:
            raise KeystoreError(f"cannot read password file {password_file}: {exc.strerror}") from exc
        return lines[0] if lines else ""
    password = getpass.getpass("Keystore password: ")
    if confirm and getpass.getpass("Repeat password: ") != password:
        raise KeystoreError("the passwords differ")
    return password


def create_keystore(path: Path, password: str, private_key: str | None = None) -> LocalAccount:
    """Write a new (or the given) key to `path`, encrypted; refuses to overwrite."""
    if len(password) < MIN_PASSWORD:
        raise KeystoreError(f"choose a password of at least {MIN_PASSWORD} characters")
    if path.exists():
        raise KeystoreError(f"{path} exists: refusing to overwrite a key")
    account: LocalAccount = Account.from_key(private_key) if private_key else Account.create()
    encrypted = Account.encrypt(account.key, password)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(encrypted, handle)
    return account


def load_keystore(path: Path, password: str) -> LocalAccount:
    try:
        encrypted = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise KeystoreError(f"no keystore at {path}: create one with `consent-ledger account new`") from exc
    except ValueError as exc:
        raise KeystoreError(f"{path} is not a keystore file") from exc
    try:
        key = Account.decrypt(encrypted, password)
    except (KeyError, TypeError) as exc:
        raise KeystoreError(f"{path} is not a keystore file") from exc
    except ValueError as exc:
        raise KeystoreError(f"cannot decrypt {path}: wrong password?") from exc
    account: LocalAccount = Account.from_key(key)
    return account


def keystore_address(path: Path) -> str:
    """The address recorded in a keystore, without decrypting it."""
    try:
        address = json.loads(path.read_text()).get("address")
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"cannot read {path}") from exc
    if not address:
        raise KeystoreError(f"{path} records no address")
    return "0x" + str(address).removeprefix("0x")
