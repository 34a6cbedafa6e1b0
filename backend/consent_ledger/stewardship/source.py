"""Reading a brand's facts from any JSON-RPC endpoint: its grant events, the custodian's anchors and the
timestamps of their blocks. The server and the report command read the chain through this one function.
"""

from __future__ import annotations

from typing import Any

from consent_ledger.addresses import checksum
from consent_ledger.chain.events import ANCHORED, GRANT_TOPICS, REVOKED, Anchored, Granted, Revoked, decode_logs
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.errors import ChainError, InputError, RpcError
from consent_ledger.stewardship.figures import ChainFacts

BLOCKS_PER_BATCH = 500  # eth_getBlockByNumber calls per JSON-RPC batch


def _topic(address: str) -> str:
    return "0x" + "00" * 12 + address[2:].lower()


def _logs(rpc: RpcClient, contract: str, start: int, stop: int, topics: list[Any]) -> list[dict[str, Any]]:
    """eth_getLogs over [start, stop], split in halves while the node refuses a range that large."""
    if start > stop:
        return []
    query = {"address": contract, "fromBlock": hex(start), "toBlock": hex(stop), "topics": topics}
    try:
        return list(rpc.request("eth_getLogs", [query], slow=True))
    except RpcError:
        if start == stop:
            raise
    middle = start + (stop - start) // 2
    return _logs(rpc, contract, start, middle, topics) + _logs(rpc, contract, middle + 1, stop, topics)


def _times(rpc: RpcClient, numbers: list[int]) -> dict[int, int]:
    times: dict[int, int] = {}
    for start in range(0, len(numbers), BLOCKS_PER_BATCH):
        part = numbers[start : start + BLOCKS_PER_BATCH]
        for number, header in zip(
            part, rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in part]), strict=True
        ):
            if header is None:
                raise ChainError(f"block {number} is gone from the chain while it was read: try again")
            times[number] = int(header["timestamp"], 16)
    return times


def read_facts(
    rpc: RpcClient, contract: str, custodian: str, brand: str, from_block: int, as_of_block: int | None = None
) -> ChainFacts:
    """The brand's `Granted`/`Revoked` events and the custodian's anchors in [from_block, as_of_block]
    (default: the latest block), with their blocks' timestamps."""
    brand, custodian = checksum(brand), checksum(custodian)
    head = rpc.block_number()
    stop = head if as_of_block is None else as_of_block
    if stop > head:
        raise InputError(f"block {stop} is not on the chain yet (its latest block is {head})")
    raw = _logs(rpc, contract, from_block, stop, [[*GRANT_TOPICS, REVOKED], None, _topic(brand)])
    events = [e for e in decode_logs(raw, contract) if isinstance(e, Granted | Revoked) and e.brand == brand]
    events.sort(key=lambda e: (e.at.block_number, e.at.log_index))
    raw_anchors = _logs(rpc, contract, from_block, stop, [ANCHORED, _topic(custodian)])
    anchors = [e for e in decode_logs(raw_anchors, contract) if isinstance(e, Anchored)]
    anchors.sort(key=lambda a: (a.at.block_number, a.at.log_index))
    blocks = sorted({e.at.block_number for e in events} | {a.at.block_number for a in anchors} | {stop})
    return ChainFacts(
        chain_id=rpc.chain_id(),
        contract=checksum(contract),
        custodian=custodian,
        brand=brand,
        as_of_block=stop,
        events=events,
        anchors=anchors,
        times=_times(rpc, blocks),
    )
