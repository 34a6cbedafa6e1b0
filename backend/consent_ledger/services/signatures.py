"""Check a customer's signature off-chain exactly as the contract's `_isSignedBy` will.

The contract, step by step, and what this module does for each:

1. ECDSA, only for a 65-byte signature r ‖ s ‖ v: `s` must be in the lower half of the curve order
   (OpenZeppelin's `tryRecover` refuses the high-s twin), and the `ecrecover` precompile answers
   the zero address unless v is 27 or 28, 0 < r < n and 0 < s, and the signature recovers to a
   point. Valid when the recovered address is the customer.
2. Otherwise, and only when the customer's address holds code: EIP-1271. The contract gives the
   wallet exactly `ERC1271_GAS_LIMIT` gas (read from the contract itself) and accepts only a call
   that succeeded with an answer of exactly 32 bytes starting with the magic value 0x1626ba7e.
   Here that is an `eth_call` to the wallet sent from the contract's address (so the wallet sees
   the same `msg.sender`) whose gas limit is that cap plus the call's intrinsic cost (21,000 plus
   the calldata), so the wallet's code runs with the same gas as inside the contract and a wallet
   that burns its gas fails here as it fails there; then the same answer check.

One difference cannot be removed through JSON-RPC: the contract's call is a STATICCALL, an
`eth_call` is not. A wallet that writes state while judging (which EIP-1271 forbids: the function
is `view`) passes here and is refused on-chain; the relayer then pays for one rejected item, at
most the capped gas, and the rejection frees the nonce for the customer's next message.
"""

from __future__ import annotations

import re

from eth_keys.datatypes import Signature
from eth_keys.exceptions import BadSignature
from eth_utils.exceptions import ValidationError

from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.errors import RpcError

EIP1271_MAGIC = bytes.fromhex("1626ba7e")  # isValidSignature(bytes32,bytes)
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0
TX_BASE_GAS = 21_000
CALLDATA_ZERO_GAS = 4  # EIP-2028
CALLDATA_NONZERO_GAS = 16

# How nodes report that the called code failed (revert, out of gas, invalid opcode...), as opposed
# to the node failing: code 3 is the standard "execution reverted"; halts come as messages.
_EXECUTION_FAILED = re.compile(r"revert|out of gas|oog|evm error|invalid opcode|stack|static|halt", re.IGNORECASE)


def ecdsa_signer(digest: bytes, signature: bytes) -> str | None:
    """The checksummed address the contract's ECDSA step recovers from `signature`, or None where
    the contract's step fails (wrong length, v not 27/28, r or s out of range, high s, no point)."""
    if len(signature) != 65:
        return None
    r = int.from_bytes(signature[0:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (27, 28) or not 0 < r < SECP256K1_N or not 0 < s <= SECP256K1_HALF_N:
        return None
    try:
        public_key = Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(digest)
    except (BadSignature, ValidationError, ValueError):
        return None
    return str(public_key.to_checksum_address())


def eip1271_calldata(digest: bytes, signature: bytes) -> bytes:
    """`abi.encodeCall(IERC1271.isValidSignature, (digest, signature))`, as the contract builds it."""
    padding = b"\0" * (-len(signature) % 32)
    head = digest + (64).to_bytes(32, "big") + len(signature).to_bytes(32, "big")
    return EIP1271_MAGIC + head + signature + padding


def intrinsic_gas(calldata: bytes) -> int:
    """What a call transaction with `calldata` pays before any code runs (no access list)."""
    zeros = calldata.count(0)
    return TX_BASE_GAS + CALLDATA_ZERO_GAS * zeros + CALLDATA_NONZERO_GAS * (len(calldata) - zeros)


def accepted_answer(answer: bytes) -> bool:
    """The contract's test of a wallet's answer: exactly 32 bytes, starting with the magic value."""
    return len(answer) == 32 and answer[:4] == EIP1271_MAGIC


def wallet_accepts(rpc: RpcClient, caller: str, wallet: str, digest: bytes, signature: bytes, gas: int) -> bool:
    """Ask `wallet` through EIP-1271 as `caller` would with `gas` for the wallet's code. A call
    that fails in the wallet is a refusal; a node that cannot answer raises (`ChainError`)."""
    data = eip1271_calldata(digest, signature)
    call = {"from": caller, "to": wallet, "data": "0x" + data.hex(), "gas": hex(gas + intrinsic_gas(data))}
    try:
        result = rpc.request("eth_call", [call, "latest"])
    except RpcError as error:
        if error.code == 3 or _EXECUTION_FAILED.search(str(error)):
            return False
        raise
    text = str(result)
    try:
        answer = bytes.fromhex(text[2:] if text.startswith("0x") else text)
    except ValueError:
        return False
    return accepted_answer(answer)


def signed_by(ledger: Ledger, customer: str, digest: bytes, signature: bytes) -> bool:
    """True exactly when the contract would take `signature` as the customer's over `digest`."""
    signer = ecdsa_signer(digest, signature)
    if signer is not None and signer.lower() == customer.lower():
        return True
    if ledger.rpc.get_code(customer) in ("0x", ""):
        return False
    return wallet_accepts(ledger.rpc, ledger.address, customer, digest, signature, ledger.erc1271_gas_limit())
