"""Signing helpers for tests: sign exactly as a wallet would (eth-account over the typed data JSON)."""

from __future__ import annotations

from datetime import datetime, timedelta

from eth_account import Account
from eth_account.signers.local import LocalAccount

from consent_ledger.chain import eip712
from consent_ledger.chain.ledger import Ledger
from consent_ledger.db.base import utc_now
from consent_ledger.domain import GrantRequest, RevokeRequest, Terms, uniform_terms

DAY = 86_400
NOTICE = bytes.fromhex("5e" * 32)
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def new_account() -> LocalAccount:
    account: LocalAccount = Account.create()
    return account


def grant_request(
    customer: str,
    brand: str,
    now: int,
    *,
    categories: int = 0b111,
    purposes: int = 0b11,
    expires_in: int = 30 * DAY,
    nonce: int = 0,
    deadline_in: int = DAY,
    terms: Terms | None = None,
) -> GrantRequest:
    """A grant of `terms`, or (without them) of the same `categories` for every purpose of `purposes`."""
    chosen = uniform_terms(categories, purposes) if terms is None else terms
    return GrantRequest(customer, brand, chosen, now + expires_in, NOTICE, nonce, now + deadline_in)


def sign_grant(ledger: Ledger, signer: LocalAccount, request: GrantRequest) -> bytes:
    """Sign through eth-account's typed-data path (what a wallet does), not our digest code."""
    typed = eip712.grant_typed_data(ledger.domain(), request)
    return bytes(Account.sign_typed_data(signer.key, full_message=typed).signature)


def sign_revoke(ledger: Ledger, signer: LocalAccount, request: RevokeRequest) -> bytes:
    typed = eip712.revoke_typed_data(ledger.domain(), request)
    return bytes(Account.sign_typed_data(signer.key, full_message=typed).signature)


def malleate(signature: bytes) -> bytes:
    """The high-s twin of a valid signature: (r, n - s, v flipped). Recovers the same key."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # 27 <-> 28


class ManualClock:
    """A clock the test moves by hand (`advance`), for code that takes `clock=` instead of reading the time."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utc_now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
