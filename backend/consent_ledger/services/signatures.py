"""Check a customer's signature off-chain the way the contract will: ECDSA (low s) first, then the
customer's EIP-1271 wallet when the customer is a contract."""

from __future__ import annotations

from eth_keys.exceptions import BadSignature

from consent_ledger.chain import eip712
from consent_ledger.chain.ledger import Ledger
from consent_ledger.errors import RpcError

EIP1271_SELECTOR = "1626ba7e"  # isValidSignature(bytes32,bytes)
SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


def _ecdsa_signer(digest: bytes, signature: bytes) -> str | None:
    if len(signature) != 65 or int.from_bytes(signature[32:64], "big") > SECP256K1_HALF_N:
        return None
    try:
        return eip712.recover_signer(digest, signature)
    except (BadSignature, ValueError):
        return None


def _eip1271_valid(ledger: Ledger, wallet: str, digest: bytes, signature: bytes) -> bool:
    if ledger.rpc.get_code(wallet) in ("0x", ""):
        return False
    length = len(signature)
    padded = signature.hex() + "00" * ((-length) % 32)
    data = "0x" + EIP1271_SELECTOR + digest.hex() + f"{64:064x}" + f"{length:064x}" + padded
    try:
        result = ledger.rpc.eth_call(wallet, data)
    except RpcError:
        return False
    return result[2:10] == EIP1271_SELECTOR


def signed_by(ledger: Ledger, customer: str, digest: bytes, signature: bytes) -> bool:
    signer = _ecdsa_signer(digest, signature)
    if signer is not None and signer.lower() == customer.lower():
        return True
    return _eip1271_valid(ledger, customer, digest, signature)
