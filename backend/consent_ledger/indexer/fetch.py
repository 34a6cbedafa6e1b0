"""Reading the chain for the indexer: headers, logs, and one consistent chunk of rows.

A chunk is consistent when the hash of its last block read before `eth_getLogs` equals the one
read after, every event's blockHash equals its block header's hash (and its transaction's), and the
cursor block (the one the chunk continues from) still has the hash we hold. A block hash commits to all its ancestors,
so then the logs came from the very history the new cursor names. Otherwise the chain moved under
us and `fetch` returns None: nothing is written, and the next step sorts it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consent_ledger.addresses import checksum
from consent_ledger.chain.events import LedgerEvent, decode_logs
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.errors import RpcError
from consent_ledger.indexer.rows import Row, event_values

Cursor = tuple[int, str]  # (block number, block hash)
RPC_BATCH = 500  # eth_getBlockByNumber / eth_getTransactionByHash calls per JSON-RPC batch


@dataclass(frozen=True)
class Chunk:
    """Rows of blocks [start, stop], ready to insert; `cursor` is (stop, its hash)."""

    start: int
    cursor: Cursor
    rows: list[Row]

    @property
    def stop(self) -> int:
        return self.cursor[0]


class ChainReader:
    def __init__(self, rpc: RpcClient, contract: str) -> None:
        self.rpc = rpc
        self.contract = contract

    def head(self) -> int:
        return self.rpc.block_number()

    def blocks(self, numbers: list[int]) -> list[dict[str, Any] | None]:
        """Headers by number (None where the chain has no such block), batched."""
        found: list[dict[str, Any] | None] = []
        for start in range(0, len(numbers), RPC_BATCH):
            part = numbers[start : start + RPC_BATCH]
            found.extend(self.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in part]))
        return found

    def senders(self, events: list[LedgerEvent]) -> dict[str, str] | None:
        """The `from` of each transaction that emitted `events`, by tx hash: one eth_getTransactionByHash
        per distinct transaction, batched. None when a transaction is missing or now sits in another
        block than its event says (the chain moved)."""
        blocks = {event.at.tx_hash: event.at.block_hash.lower() for event in events}
        hashes = sorted(blocks)
        found: dict[str, str] = {}
        for start in range(0, len(hashes), RPC_BATCH):
            part = hashes[start : start + RPC_BATCH]
            for tx_hash, tx in zip(
                part, self.rpc.batch([("eth_getTransactionByHash", [h]) for h in part]), strict=True
            ):
                if tx is None or str(tx.get("blockHash", "")).lower() != blocks[tx_hash]:
                    return None
                found[tx_hash] = checksum(str(tx["from"]))
        return found

    def canonical(self, cursor: Cursor) -> bool:
        """The cursor block is still on the chain (and its successor, if any, builds on it)."""
        number, stored = cursor
        block, child = self.blocks([number, number + 1])
        if block is None or block["hash"] != stored:
            return False
        return child is None or child["parentHash"] == stored

    def logs(self, start: int, stop: int) -> tuple[list[dict[str, Any]], int]:
        """Raw logs of [start, stop]; halves the range while the node refuses one that large."""
        while True:
            query = {"address": self.contract, "fromBlock": hex(start), "toBlock": hex(stop)}
            try:
                return list(self.rpc.request("eth_getLogs", [query], slow=True)), stop
            except RpcError:
                if stop == start:
                    raise
                stop = start + (stop - start) // 2

    def fetch(self, start: int, stop: int, cursor: Cursor | None) -> Chunk | None:
        """Blocks [start, <= stop] continuing from `cursor`, or None if the chain moved meanwhile."""
        (before,) = self.blocks([stop])
        if before is None:
            return None
        logs, reached = self.logs(start, stop)
        if reached != stop:  # the node refused the whole range: read the shorter one, its hash first
            return self.fetch(start, reached, cursor)
        events = decode_logs(logs, self.contract)
        numbers = sorted({event.at.block_number for event in events} | {stop})
        if cursor is not None:
            numbers.insert(0, cursor[0])
        headers = {number: header for number, header in zip(numbers, self.blocks(numbers), strict=True)}
        if any(header is None for header in headers.values()):
            return None
        hashes = {number: header["hash"] for number, header in headers.items() if header is not None}
        if hashes[stop] != before["hash"] or (cursor is not None and hashes[cursor[0]] != cursor[1]):
            return None
        if any(hashes[event.at.block_number] != event.at.block_hash for event in events):
            return None
        senders = self.senders(events)
        if senders is None:
            return None
        times = {number: int(header["timestamp"], 16) for number, header in headers.items() if header is not None}
        rows = [event_values(event, times[event.at.block_number], senders[event.at.tx_hash]) for event in events]
        return Chunk(start, (stop, str(before["hash"])), rows)
