"""Sign-in."""

from __future__ import annotations

from pydantic import Field

from consent_ledger.apimodels.base import Reply


class Challenge(Reply):
    nonce: str
    domain: str
    uri: str
    chain_id: int
    message: str | None = Field(default=None, description="with `?address=`: the exact EIP-4361 text to sign")


class Login(Reply):
    token: str
    token_type: str = Field(description="Bearer")
    address: str
    roles: list[str]
    expires_at: str


class Me(Reply):
    address: str
    roles: list[str] = Field(description="customer, brand, auditor: as held now, not when the token was made")
    expires_at: str
