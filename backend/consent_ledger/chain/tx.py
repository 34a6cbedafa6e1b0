"""Send transactions from one key: one writer per key, in nonce order, signed locally.

The sender estimates gas (a revert there raises our decoded `ContractRevertError` and sends
nothing), signs with eth-account, submits raw, and waits for the receipt. A transaction that gets
no receipt in time makes the sender forget its cached nonce, so the next one is numbered from the
chain again instead of queueing behind a transaction the node may have dropped.

`sign` and `broadcast` serve callers that choose the nonce and fees themselves (the durable sender,
which records each transaction before it leaves).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from consent_ledger.chain.reverts import RevertDecoder
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.errors import ChainError, RpcError, TransactionFailedError

PRIORITY_FEE = 1_000_000_000  # 1 gwei
GAS_HEADROOM_NUM, GAS_HEADROOM_DEN = 6, 5  # estimate x 1.2


@dataclass(frozen=True, slots=True)
class SignedTx:
    raw: str  # 0x-prefixed, ready for eth_sendRawTransaction
    tx_hash: str


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    block_number: int
    block_hash: str
    gas_used: int
    status: int
    contract_address: str | None
    logs: list[dict[str, Any]] = field(repr=False)

    @classmethod
    def from_rpc(cls, raw: dict[str, Any]) -> Receipt:
        return cls(
            tx_hash=raw["transactionHash"],
            block_number=int(raw["blockNumber"], 16),
            block_hash=raw["blockHash"],
            gas_used=int(raw["gasUsed"], 16),
            status=int(raw["status"], 16),
            contract_address=raw.get("contractAddress"),
            logs=list(raw.get("logs", [])),
        )


def _revert_data(error: RpcError) -> str | None:
    data = error.data
    if isinstance(data, dict):
        data = data.get("data")
    return data if isinstance(data, str) and data.startswith("0x") else None


class TxSender:
    """Signs and sends transactions for one account, serialised by a lock."""

    def __init__(self, rpc: RpcClient, private_key: bytes | str, decoder: RevertDecoder | None = None) -> None:
        self.rpc = rpc
        self.account: LocalAccount = Account.from_key(private_key)
        self.decoder = decoder
        self._lock = threading.Lock()
        self._nonce: int | None = None

    @property
    def address(self) -> str:
        return str(self.account.address)

    def _next_nonce(self) -> int:
        if self._nonce is None:
            self._nonce = int(self.rpc.request("eth_getTransactionCount", [self.address, "pending"]), 16)
        return self._nonce

    def resync(self) -> None:
        """Forget the local nonce (after a node restart or an external send)."""
        with self._lock:
            self._nonce = None

    def chain_nonce(self, block: str = "latest") -> int:
        """The account's transaction count at `block` ("latest": mined; "pending": with the mempool)."""
        return int(self.rpc.request("eth_getTransactionCount", [self.address, block]), 16)

    def balance(self) -> int:
        return int(self.rpc.request("eth_getBalance", [self.address, "latest"]), 16)

    def fees(self) -> tuple[int, int]:
        """(maxFeePerGas, maxPriorityFeePerGas) for a transaction sent now."""
        base_fee = int(self.rpc.get_block("latest").get("baseFeePerGas", "0x0"), 16)
        return 2 * base_fee + PRIORITY_FEE, PRIORITY_FEE

    def sign(self, nonce: int, to: str | None, data: str, gas: int, max_fee: int, priority_fee: int) -> SignedTx:
        """Sign an EIP-1559 transaction with exactly this nonce and these fees (nothing is sent)."""
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": self.rpc.chain_id(),
            "nonce": nonce,
            "gas": gas,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": priority_fee,
            "value": 0,
            "data": data,
        }
        if to is not None:
            tx["to"] = to
        signed = self.account.sign_transaction(tx)
        return SignedTx("0x" + signed.raw_transaction.hex(), "0x" + bytes(signed.hash).hex())

    def broadcast(self, raw: str) -> str:
        """Hand a signed transaction to the node; returns its hash. The node's refusal raises `RpcError`."""
        return str(self.rpc.request("eth_sendRawTransaction", [raw]))

    def _raise_revert(self, error: RpcError) -> None:
        data = _revert_data(error)
        if data is not None and self.decoder is not None:
            raise self.decoder.decode(data) from error

    def estimate(self, to: str | None, data: str) -> int:
        call: dict[str, Any] = {"from": self.address, "data": data}
        if to is not None:
            call["to"] = to
        try:
            return int(self.rpc.request("eth_estimateGas", [call], slow=True), 16)
        except RpcError as error:
            self._raise_revert(error)
            raise

    def send(self, to: str | None, data: str, gas: int | None = None) -> str:
        """Sign and submit; returns the tx hash. Raises `ContractRevertError` if it would revert."""
        with self._lock:
            limit = gas or self.estimate(to, data) * GAS_HEADROOM_NUM // GAS_HEADROOM_DEN
            base_fee = int(self.rpc.get_block("latest").get("baseFeePerGas", "0x0"), 16)
            for attempt in (1, 2):
                tx: dict[str, Any] = {
                    "type": 2,
                    "chainId": self.rpc.chain_id(),
                    "nonce": self._next_nonce(),
                    "gas": limit,
                    "maxFeePerGas": 2 * base_fee + PRIORITY_FEE,
                    "maxPriorityFeePerGas": PRIORITY_FEE,
                    "value": 0,
                    "data": data,
                }
                if to is not None:
                    tx["to"] = to
                signed = self.account.sign_transaction(tx)
                try:
                    raw = "0x" + signed.raw_transaction.hex()
                    tx_hash = str(self.rpc.request("eth_sendRawTransaction", [raw], slow=True))
                except RpcError as error:
                    if "nonce" in str(error).lower() and attempt == 1:
                        self._nonce = None  # someone else used this key, or the node restarted
                        continue
                    self._raise_revert(error)
                    raise
                self._nonce = tx["nonce"] + 1
                return tx_hash
        raise AssertionError("unreachable")

    def wait(self, tx_hash: str, timeout: float = 60.0, max_poll: float = 0.5) -> Receipt:
        """Poll for the receipt: quickly at first (a devnet mines at once), then backing off."""
        deadline = time.monotonic() + timeout
        poll = 0.002
        while time.monotonic() < deadline:
            raw = self.rpc.request("eth_getTransactionReceipt", [tx_hash])
            if raw is not None:
                return Receipt.from_rpc(raw)
            time.sleep(poll)
            poll = min(poll * 2, max_poll)
        raise TransactionFailedError(f"no receipt for {tx_hash} after {timeout:.0f}s")

    def transact(self, to: str | None, data: str, gas: int | None = None, timeout: float = 60.0) -> Receipt:
        """Send and wait; a mined failure raises `TransactionFailedError`. Without a receipt in time the
        cached nonce is dropped: the next send asks the chain again (the node may have lost this one)."""
        tx_hash = self.send(to, data, gas)
        try:
            receipt = self.wait(tx_hash, timeout)
        except TransactionFailedError:
            self.resync()
            raise
        if receipt.status != 1:
            raise TransactionFailedError(f"transaction {receipt.tx_hash} failed in block {receipt.block_number}")
        return receipt


def require_code(rpc: RpcClient, address: str) -> None:
    if rpc.get_code(address) in ("0x", "0x0", ""):
        raise ChainError(f"no contract at {address} on chain {rpc.chain_id()} ({rpc.display_url})")
