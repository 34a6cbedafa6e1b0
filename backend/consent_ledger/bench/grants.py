"""Signed one-purpose grants in bulk, for the benchmarks that need many customers on a throwaway chain.

Customers are fresh secp256k1 keys made and used with coincurve directly (eth-account spends ~1 ms making
a key and ~1 ms signing); `grantBatchBySig` calldata is encoded by hand (eth_abi spends ~0.25 ms a grant
validating values); batches are sent back to back with explicit gas, so nothing is estimated and the node
mines one batch while the next is signed. `landed` then counts the `Granted` events of every receipt.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import coincurve
from eth_hash.auto import keccak

from consent_ledger.addresses import checksum
from consent_ledger.chain import eip712
from consent_ledger.chain.events import Granted, decode_logs
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.tx import TxSender
from consent_ledger.domain import GrantRequest

GRANT_BATCH_SELECTOR = keccak(
    b"grantBatchBySig(((address,address,uint64,uint64[],uint40,bytes32,uint256,uint40),bytes)[])"
)[:4]
SIGNED_GRANT_SIZE = 16 * 32
GAS_PER_GRANT = 42_000  # a new one-purpose grant in a batch costs ~35k; headroom, no eth_estimateGas
BATCH_GAS = 200_000
MAX_TX_GAS = 2**24  # EIP-7825's per-transaction cap: a batch stays within it on any recent node
MAX_BATCH = (MAX_TX_GAS - BATCH_GAS) // GAS_PER_GRANT  # 394 grants


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def encode_grant_batch(items: Sequence[tuple[GrantRequest, bytes]]) -> str:
    """grantBatchBySig calldata by hand, for one-purpose grants. Each SignedGrant is dynamic: the offsets
    of its request and signature; the request's 8 head words (the 4th the offset of `categoriesPerPurpose`),
    that array's length and one item; the signature's length and 3 words."""
    words = [GRANT_BATCH_SELECTOR, _word(0x20), _word(len(items))]
    words += [_word(len(items) * 32 + i * SIGNED_GRANT_SIZE) for i in range(len(items))]
    for g, signature in items:
        (term,) = g.terms
        words += [
            _word(2 * 32),
            _word(12 * 32),
            bytes.fromhex(g.customer[2:]).rjust(32, b"\0"),
            bytes.fromhex(g.brand[2:]).rjust(32, b"\0"),
            _word(term.bit),
            _word(8 * 32),
            _word(g.expires_at),
            g.notice_hash,
            _word(g.nonce),
            _word(g.deadline),
            _word(1),
            _word(term.categories),
            _word(len(signature)),
            signature.ljust(96, b"\0"),
        ]
    return "0x" + b"".join(words).hex()


@dataclass(frozen=True, slots=True)
class Customer:
    """A throwaway customer: a key and its checksummed address."""

    key: coincurve.PrivateKey
    address: str

    @classmethod
    def fresh(cls) -> Customer:
        key = coincurve.PrivateKey(os.urandom(32))
        public = key.public_key.format(compressed=False)[1:]
        return cls(key, checksum("0x" + keccak(public)[-20:].hex()))


class GrantSigner:
    """Signs grants for one deployed ledger: the EIP-712 digest by hand, a low-s signature from libsecp256k1."""

    def __init__(self, ledger: Ledger) -> None:
        self.prefix = b"\x19\x01" + ledger.domain().separator()

    def sign(self, customer: Customer, request: GrantRequest) -> bytes:
        raw = customer.key.sign_recoverable(keccak(self.prefix + eip712.grant_struct_hash(request)), hasher=None)
        return raw[:64] + bytes([raw[64] + 27])


def send_grant_batch(ledger: Ledger, sender: TxSender, items: Sequence[tuple[GrantRequest, bytes]]) -> str:
    """Submit one batch without waiting for it; returns the transaction hash."""
    if not 1 <= len(items) <= MAX_BATCH:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH} grants")
    return sender.send(ledger.address, encode_grant_batch(items), gas=GAS_PER_GRANT * len(items) + BATCH_GAS)


def landed(ledger: Ledger, sender: TxSender, hashes: Sequence[str]) -> int:
    """`Granted` events in the receipts of `hashes` (after the last one is mined); failed ones count 0."""
    if not hashes:
        return 0
    sender.wait(hashes[-1])
    count = 0
    for part in range(0, len(hashes), 100):
        receipts = ledger.rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes[part : part + 100]])
        for receipt in receipts:
            if receipt and receipt["status"] == "0x1":
                count += sum(isinstance(e, Granted) for e in decode_logs(receipt["logs"], ledger.address))
    return count
