"""Endpoint secrets at rest: AES-256-GCM under the vault master key (pure functions, no I/O).

Associated data binds a sealed secret to its endpoint and its own row id, so a sealed value copied to
another endpoint or row fails to open. A secret is `whsec_` + base64 of 32 random bytes (Standard
Webhooks' form); it exists in plaintext only in the answer that shows it once and while signing.
"""

from __future__ import annotations

import base64
import os
import secrets

from cryptography.exceptions import InvalidTag

from consent_ledger.vault.crypto import NONCE_BYTES, MasterKey
from consent_ledger.vault.errors import TamperedError

SECRET_PREFIX = "whsec_"  # noqa: S105 -- the prefix of every endpoint secret, no secret
SECRET_BYTES = 32
_AAD = b"consent-ledger/webhook-secret/v1|"


def new_secret() -> str:
    """A fresh endpoint secret."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def seal(master: MasterKey, secret: str, endpoint_id: str, secret_id: str) -> bytes:
    """`secret` encrypted under `master`, bound to its endpoint and row: nonce (12) | ciphertext+tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + master.aead().encrypt(nonce, secret.encode("ascii"), _aad(endpoint_id, secret_id))


def unseal(master: MasterKey, sealed: bytes, endpoint_id: str, secret_id: str) -> str:
    """The secret in `sealed`; `TamperedError` if it was altered, moved, or sealed under another key."""
    problem = (
        f"a signing secret of webhook endpoint {endpoint_id} failed authentication "
        "(altered, moved, or sealed under another master key)"
    )
    if len(sealed) <= NONCE_BYTES:
        raise TamperedError(problem)
    try:
        plain = master.aead().decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _aad(endpoint_id, secret_id))
    except InvalidTag as error:
        raise TamperedError(problem) from error
    return plain.decode("ascii")


def _aad(endpoint_id: str, secret_id: str) -> bytes:
    return _AAD + f"{endpoint_id}|{secret_id}".encode("ascii")
