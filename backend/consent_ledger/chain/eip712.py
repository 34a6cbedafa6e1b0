"""EIP-712 typed data for `Grant` and `Revoke`: the wallet JSON, the digest, and signing.

`grant_typed_data` returns exactly what a wallet's `eth_signTypedData_v4` accepts. The digest is
computed here by hand (fast, no JSON round trip); tests pin it against eth-account and the contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from consent_ledger.domain import GrantRequest, RevokeRequest, wire_terms

DOMAIN_NAME = "ConsentLedger"
DOMAIN_VERSION = "1"

GRANT_TYPE = (
    "Grant(address customer,address brand,uint64 purposes,uint64[] categoriesPerPurpose,uint40 expiresAt,"
    "bytes32 noticeHash,uint256 nonce,uint40 deadline)"
)
REVOKE_TYPE = "Revoke(address customer,address brand,uint256 nonce,uint40 deadline)"
DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"

GRANT_TYPEHASH = keccak(text=GRANT_TYPE)
REVOKE_TYPEHASH = keccak(text=REVOKE_TYPE)
DOMAIN_TYPEHASH = keccak(text=DOMAIN_TYPE)

_DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
_GRANT_FIELDS = [
    {"name": "customer", "type": "address"},
    {"name": "brand", "type": "address"},
    {"name": "purposes", "type": "uint64"},
    {"name": "categoriesPerPurpose", "type": "uint64[]"},
    {"name": "expiresAt", "type": "uint40"},
    {"name": "noticeHash", "type": "bytes32"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint40"},
]
_REVOKE_FIELDS = [
    {"name": "customer", "type": "address"},
    {"name": "brand", "type": "address"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint40"},
]


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _addr(address: str) -> bytes:
    return bytes.fromhex(address[2:]).rjust(32, b"\0")


@dataclass(frozen=True, slots=True)
class Domain:
    """The EIP-712 domain of one deployed ConsentLedger."""

    chain_id: int
    verifying_contract: str

    def separator(self) -> bytes:
        return keccak(
            DOMAIN_TYPEHASH
            + keccak(text=DOMAIN_NAME)
            + keccak(text=DOMAIN_VERSION)
            + _word(self.chain_id)
            + _addr(self.verifying_contract)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": self.chain_id,
            "verifyingContract": to_checksum_address(self.verifying_contract),
        }


def categories_hash(categories: Sequence[int]) -> bytes:
    """EIP-712 encoding of a `uint64[]`: keccak of its items, each as a 32-byte word."""
    return keccak(b"".join(_word(c) for c in categories))


def grant_struct_hash(g: GrantRequest) -> bytes:
    purposes, categories = wire_terms(g.terms)
    return keccak(
        GRANT_TYPEHASH
        + _addr(g.customer)
        + _addr(g.brand)
        + _word(purposes)
        + categories_hash(categories)
        + _word(g.expires_at)
        + g.notice_hash.rjust(32, b"\0")
        + _word(g.nonce)
        + _word(g.deadline)
    )


def revoke_struct_hash(r: RevokeRequest) -> bytes:
    return keccak(REVOKE_TYPEHASH + _addr(r.customer) + _addr(r.brand) + _word(r.nonce) + _word(r.deadline))


def digest(domain: Domain, struct_hash: bytes) -> bytes:
    """keccak256("\\x19\\x01" ‖ domainSeparator ‖ hashStruct(message))."""
    return keccak(b"\x19\x01" + domain.separator() + struct_hash)


def grant_digest(domain: Domain, g: GrantRequest) -> bytes:
    return digest(domain, grant_struct_hash(g))


def revoke_digest(domain: Domain, r: RevokeRequest) -> bytes:
    return digest(domain, revoke_struct_hash(r))


def grant_message(g: GrantRequest) -> dict[str, Any]:
    """The `message` part of the typed data. uint64/uint256 values are decimal strings so that
    JavaScript wallets never round them; uint40 times fit in a JS number and stay numbers."""
    purposes, categories = wire_terms(g.terms)
    return {
        "customer": to_checksum_address(g.customer),
        "brand": to_checksum_address(g.brand),
        "purposes": str(purposes),
        "categoriesPerPurpose": [str(c) for c in categories],
        "expiresAt": g.expires_at,
        "noticeHash": "0x" + g.notice_hash.hex(),
        "nonce": str(g.nonce),
        "deadline": g.deadline,
    }


def revoke_message(r: RevokeRequest) -> dict[str, Any]:
    return {
        "customer": to_checksum_address(r.customer),
        "brand": to_checksum_address(r.brand),
        "nonce": str(r.nonce),
        "deadline": r.deadline,
    }


def grant_typed_data(domain: Domain, g: GrantRequest) -> dict[str, Any]:
    """The JSON a wallet's `eth_signTypedData_v4` accepts for a grant."""
    return {
        "types": {"EIP712Domain": _DOMAIN_FIELDS, "Grant": _GRANT_FIELDS},
        "primaryType": "Grant",
        "domain": domain.to_json(),
        "message": grant_message(g),
    }


def revoke_typed_data(domain: Domain, r: RevokeRequest) -> dict[str, Any]:
    """The JSON a wallet's `eth_signTypedData_v4` accepts for a revocation."""
    return {
        "types": {"EIP712Domain": _DOMAIN_FIELDS, "Revoke": _REVOKE_FIELDS},
        "primaryType": "Revoke",
        "domain": domain.to_json(),
        "message": revoke_message(r),
    }


def sign_digest(private_key: bytes | str, message_digest: bytes) -> bytes:
    """A 65-byte r‖s‖v signature (v = 27/28, low s) over an EIP-712 digest."""
    signed = Account.unsafe_sign_hash(message_digest, private_key)
    return bytes(signed.signature)


def recover_signer(message_digest: bytes, signature: bytes) -> str:
    """The address that produced `signature` over `message_digest` (checksummed)."""
    return str(Account._recover_hash(message_digest, signature=signature))
