"""The ConsentLedger contract as Python calls: writes through a `TxSender`, reads over raw JSON-RPC.

The batch view is the hot path: calldata is built by hand (`calldata.py`) and answers are decoded
by hand, chunked so each `eth_call` stays within the node's gas cap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils.address import to_checksum_address

from consent_ledger.chain import calldata
from consent_ledger.chain.abi import ContractAbi
from consent_ledger.chain.eip712 import Domain
from consent_ledger.chain.events import LedgerEvent, decode_logs
from consent_ledger.chain.reverts import RevertDecoder
from consent_ledger.chain.rpc import BlockRef, RpcClient, block_param
from consent_ledger.chain.tx import Receipt, TxSender
from consent_ledger.domain import GrantRequest, GrantState, PurposeTerms, Query, RevokeRequest, Terms, wire_terms
from consent_ledger.errors import RpcError

BATCH_VIEW_CHUNK = 5_000
GAS_PER_QUERY = 6_000  # a cold SLOAD plus decoding, with headroom
GAS_PER_EXTRA_PURPOSE = 2_600  # each purpose asked beyond the first may read one more cold slot
BASE_CALL_GAS = 1_000_000


def _grant_tuple(g: GrantRequest) -> tuple[Any, ...]:
    purposes, categories = wire_terms(g.terms)
    return (g.customer, g.brand, purposes, list(categories), g.expires_at, g.notice_hash, g.nonce, g.deadline)


def _revoke_tuple(r: RevokeRequest) -> tuple[Any, ...]:
    return (r.customer, r.brand, r.nonce, r.deadline)


@dataclass(frozen=True)
class TxResult:
    receipt: Receipt
    events: list[LedgerEvent]


class Ledger:
    """One deployed ConsentLedger."""

    def __init__(self, rpc: RpcClient, address: str, abi: list[dict[str, Any]]) -> None:
        self.rpc = rpc
        self.address = to_checksum_address(address)
        self.abi = ContractAbi(abi)
        self.reverts = RevertDecoder(abi)
        self._erc1271_gas: int | None = None
        self._max_duration: int | None = None

    def domain(self) -> Domain:
        return Domain(self.rpc.chain_id(), self.address)

    def sender(self, private_key: bytes | str) -> TxSender:
        """A transaction sender whose reverts decode into this contract's custom errors."""
        return TxSender(self.rpc, private_key, self.reverts)

    # ------------------------------------------------------------------ reads

    def _call(self, name: str, args: Sequence[Any], block: BlockRef = "latest") -> tuple[Any, ...]:
        function = self.abi.function(name)
        try:
            result = self.rpc.eth_call(self.address, function.encode(args), block)
        except RpcError as error:
            data = error.data.get("data") if isinstance(error.data, dict) else error.data
            if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
                raise self.reverts.decode(data) from error
            raise
        return function.decode(result)

    def grant_of(self, customer: str, brand: str, block: BlockRef = "latest") -> GrantState:
        ((terms, expires_at, granted_at, nonce),) = self._call("grantOf", [customer, brand], block)
        return GrantState(tuple(PurposeTerms(int(p), int(c)) for p, c in terms), expires_at, granted_at, nonce)

    def nonce_of(self, customer: str, brand: str, block: BlockRef = "latest") -> int:
        return int(self._call("nonceOf", [customer, brand], block)[0])

    def nonces_of(self, pairs: Sequence[tuple[str, str]], block: BlockRef = "latest") -> list[int]:
        """`nonce_of` for many (customer, brand) pairs in one JSON-RPC batch."""
        function = self.abi.function("nonceOf")
        tag = block_param(block)
        calls = [("eth_call", [{"to": self.address, "data": function.encode(pair)}, tag]) for pair in pairs]
        return [int(result, 16) for result in self.rpc.batch(calls)]

    def is_allowed(self, customer: str, brand: str, categories: int, purposes: int, block: BlockRef = "latest") -> bool:
        return bool(self._call("isAllowed", [customer, brand, categories, purposes], block)[0])

    def _batch_view(
        self,
        count: int,
        encode: Callable[[int, int], str],
        purposes: Callable[[int], int],
        block: BlockRef,
        uniform: int | None = None,
    ) -> list[bool]:
        """`areAllowed` over `count` questions in chunks that stay within the node's call gas cap;
        `encode(start, stop)` builds the calldata of questions[start:stop], `purposes(i)` is question
        i's purposes mask (each purpose beyond the first may cost the contract one more slot read);
        `uniform`, when given, is every question's purposes mask (then `purposes` is not called)."""
        answers: list[bool] = []
        start = 0
        while start < count:
            # a chunk holds at most BATCH_VIEW_CHUNK one-purpose questions' worth of gas
            stop, budget = start, GAS_PER_QUERY * BATCH_VIEW_CHUNK
            if uniform is not None:  # every question costs the same: as many as the budget holds, at least one
                cost = _cost(uniform)
                stop = min(count, start + max(1, min(BATCH_VIEW_CHUNK, budget // cost)))
                budget -= cost * (stop - start)
            while uniform is None and stop < count and stop - start < BATCH_VIEW_CHUNK:
                cost = _cost(purposes(stop))
                if stop > start and cost > budget:
                    break
                budget -= cost
                stop += 1
            gas = BASE_CALL_GAS + GAS_PER_QUERY * BATCH_VIEW_CHUNK - budget
            result = self.rpc.eth_call(self.address, encode(start, stop), block, gas=gas)
            answers.extend(calldata.decode_bool_array(result, stop - start))
            start = stop
        return answers

    def are_allowed(self, queries: Sequence[Query], block: BlockRef = "latest") -> list[bool]:
        """Answer many questions at one block; hand-encoded, chunked."""
        return self._batch_view(
            len(queries), lambda a, b: calldata.encode_are_allowed(queries[a:b]), lambda i: queries[i].purposes, block
        )

    def are_allowed_for_brand(
        self, brand: str, rows: Sequence[tuple[str, int, int]], block: BlockRef = "latest"
    ) -> list[bool]:
        """`are_allowed` for one brand; `rows` holds (customer, categories, purposes)."""
        masks = {row[2] for row in rows}
        return self._batch_view(
            len(rows),
            lambda a, b: calldata.encode_are_allowed_for_brand(brand, rows[a:b]),
            lambda i: rows[i][2],
            block,
            uniform=masks.pop() if len(masks) == 1 else None,
        )

    def grant_digest(self, request: GrantRequest) -> bytes:
        return bytes(self._call("grantDigest", [_grant_tuple(request)])[0])

    def revoke_digest(self, request: RevokeRequest) -> bytes:
        return bytes(self._call("revokeDigest", [_revoke_tuple(request)])[0])

    def erc1271_gas_limit(self) -> int:
        """The gas the contract gives a customer's EIP-1271 wallet (a constant: read once)."""
        if self._erc1271_gas is None:
            self._erc1271_gas = int(self._call("ERC1271_GAS_LIMIT", [])[0])
        return self._erc1271_gas

    def max_grant_duration(self) -> int:
        """The longest a grant may last, in seconds (the contract's `MAX_GRANT_DURATION`: read once)."""
        if self._max_duration is None:
            self._max_duration = int(self._call("MAX_GRANT_DURATION", [])[0])
        return self._max_duration

    def latest_anchor(self, custodian: str, block: BlockRef = "latest") -> tuple[bytes, int, int]:
        root, size, anchored_at = self._call("latestAnchor", [custodian], block)
        return bytes(root), int(size), int(anchored_at)

    def root_at(self, custodian: str, size: int, block: BlockRef = "latest") -> bytes:
        return bytes(self._call("rootAt", [custodian, size], block)[0])

    # ----------------------------------------------------------------- writes

    def _transact(self, sender: TxSender, name: str, args: Sequence[Any], gas: int | None = None) -> TxResult:
        receipt = sender.transact(self.address, self.abi.function(name).encode(args), gas)
        return TxResult(receipt, decode_logs(receipt.logs, self.address))

    def grant(
        self,
        sender: TxSender,
        brand: str,
        terms: Terms,
        expires_at: int,
        notice_hash: bytes,
    ) -> TxResult:
        """Direct grant: the sender is the customer."""
        purposes, categories = wire_terms(terms)
        return self._transact(sender, "grant", [brand, purposes, list(categories), expires_at, notice_hash])

    def revoke(self, sender: TxSender, brand: str) -> TxResult:
        """Direct revocation: the sender is the customer; no relayer involved."""
        return self._transact(sender, "revoke", [brand])

    def grant_by_sig(self, sender: TxSender, request: GrantRequest, signature: bytes) -> TxResult:
        return self._transact(sender, "grantBySig", [_grant_tuple(request), signature])

    def revoke_by_sig(self, sender: TxSender, request: RevokeRequest, signature: bytes) -> TxResult:
        return self._transact(sender, "revokeBySig", [_revoke_tuple(request), signature])

    def grant_batch_call(self, items: Sequence[tuple[GrantRequest, bytes]]) -> str:
        """Calldata of `grantBatchBySig` for these signed grants."""
        return self.abi.function("grantBatchBySig").encode([[(_grant_tuple(g), sig) for g, sig in items]])

    def revoke_batch_call(self, items: Sequence[tuple[RevokeRequest, bytes]]) -> str:
        return self.abi.function("revokeBatchBySig").encode([[(_revoke_tuple(r), sig) for r, sig in items]])

    def anchor_call(self, root: bytes, size: int) -> str:
        return self.abi.function("anchor").encode([root, size])

    def grant_batch(
        self, sender: TxSender, items: Sequence[tuple[GrantRequest, bytes]], gas: int | None = None
    ) -> TxResult:
        """Many signed grants in one transaction; bad items come back as `Rejected` events. Without
        `gas`, the limit comes from eth_estimateGas."""
        return self._transact(sender, "grantBatchBySig", [[(_grant_tuple(g), sig) for g, sig in items]], gas)

    def revoke_batch(
        self, sender: TxSender, items: Sequence[tuple[RevokeRequest, bytes]], gas: int | None = None
    ) -> TxResult:
        return self._transact(sender, "revokeBatchBySig", [[(_revoke_tuple(r), sig) for r, sig in items]], gas)

    def anchor(self, sender: TxSender, root: bytes, size: int) -> TxResult:
        return self._transact(sender, "anchor", [root, size])


def _cost(purposes: int) -> int:
    """The gas budgeted for one question asking about `purposes`."""
    return GAS_PER_QUERY + GAS_PER_EXTRA_PURPOSE * max(purposes.bit_count() - 1, 0)
