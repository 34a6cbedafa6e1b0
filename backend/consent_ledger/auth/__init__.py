"""Authentication and authorisation: Sign-In with Ethereum, bearer tokens, roles and nonces."""

from __future__ import annotations

from consent_ledger.auth.errors import (
    AuthError,
    ChainMismatchError,
    DomainMismatchError,
    ExpiredError,
    ForbiddenError,
    InvalidMessageError,
    InvalidSignatureError,
    NonceError,
    NotYetValidError,
    TokenError,
)
from consent_ledger.auth.nonces import MemoryNonceStore, NonceStore
from consent_ledger.auth.roles import Principal, Role, require, roles_for
from consent_ledger.auth.siwe import MAX_CLOCK_SKEW, SiweMessage, new_nonce, parse, verify
from consent_ledger.auth.tokens import MIN_SECRET_BYTES, Identity, TokenSigner

__all__ = [
    "MAX_CLOCK_SKEW",
    "MIN_SECRET_BYTES",
    "AuthError",
    "ChainMismatchError",
    "DomainMismatchError",
    "ExpiredError",
    "ForbiddenError",
    "Identity",
    "InvalidMessageError",
    "InvalidSignatureError",
    "MemoryNonceStore",
    "NonceError",
    "NonceStore",
    "NotYetValidError",
    "Principal",
    "Role",
    "SiweMessage",
    "TokenError",
    "TokenSigner",
    "new_nonce",
    "parse",
    "require",
    "roles_for",
    "verify",
]
