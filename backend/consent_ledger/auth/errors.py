"""Errors raised by sign-in, bearer tokens and role checks.

All derive from `AuthError`, itself a `ClientError`, so the API can map the whole family in one place
(typically: `ForbiddenError` to 403, the others to 401).
"""

from __future__ import annotations

from consent_ledger.errors import ClientError


class AuthError(ClientError):
    """Authentication or authorisation failed."""


class InvalidMessageError(AuthError):
    """A Sign-In with Ethereum message is malformed (does not follow EIP-4361)."""


class InvalidSignatureError(AuthError):
    """The signature is malformed or was not made by the message's address."""


class NonceError(AuthError):
    """The nonce is unknown, expired or already used."""


class ExpiredError(AuthError):
    """The sign-in message has expired."""


class NotYetValidError(AuthError):
    """The sign-in message is not valid yet (`Not Before` in the future, or issued in the future)."""


class DomainMismatchError(AuthError):
    """The sign-in message was made for another domain (or scheme)."""


class ChainMismatchError(AuthError):
    """The sign-in message was made for another chain."""


class TokenError(AuthError):
    """A bearer token is malformed, forged or expired."""


class ForbiddenError(AuthError):
    """The caller is authenticated but lacks the role the action needs."""
