"""The verifier's view of consent propagation, from an exported log and the chain alone: the customer's
revocations are the contract's `Revoked` events (their time is their block's timestamp), the erasures
are the ones the custodian's file declares, the recipients are the version-1 leaves and what each brand
was told is in the version-3 leaves (`audit.notices` matches them). "Now" is the chain's latest block
timestamp, so a devnet that travels in time ages the notices with it."""

from __future__ import annotations

from consent_ledger.audit import leaf as leaf_codec
from consent_ledger.audit.errors import AuditError
from consent_ledger.audit.export_file import LogFile
from consent_ledger.audit.notices import ERASED, REVOKED, Change, Notice, Receipt, Step, notices
from consent_ledger.chain.events import REVOKED as REVOKED_TOPIC
from consent_ledger.chain.events import Revoked, decode_logs
from consent_ledger.chain.rpc import RpcClient

_HEADERS_PER_BATCH = 100


def _revocations(rpc: RpcClient, log: LogFile) -> list[Change]:
    raw = rpc.request(
        "eth_getLogs",
        [{"address": log.contract, "fromBlock": hex(log.from_block), "toBlock": "latest", "topics": [REVOKED_TOPIC]}],
        slow=True,
    )
    events = [e for e in decode_logs(raw, log.contract) if isinstance(e, Revoked)]
    blocks = sorted({e.at.block_number for e in events})
    times: dict[int, int] = {}
    for start in range(0, len(blocks), _HEADERS_PER_BATCH):
        group = blocks[start : start + _HEADERS_PER_BATCH]
        headers = rpc.batch([("eth_getBlockByNumber", [hex(b), False]) for b in group])
        for number, header in zip(group, headers, strict=True):
            if header is not None:  # a block gone is reported with the releases it decided
                times[number] = int(str(header["timestamp"]), 16)
    return [
        Change(REVOKED, e.customer, times[e.at.block_number], e.brand, e.at.block_number, e.at.tx_hash)
        for e in events
        if e.at.block_number in times
    ]


def logged_notices(rpc: RpcClient, log: LogFile, leaves: list[bytes]) -> tuple[list[Notice], int]:
    """(every notice owed or logged, the chain's time now). Unreadable leaves are skipped here (the
    release check reports them)."""
    receipts: list[Receipt] = []
    steps: list[Step] = []
    for index, data in enumerate(leaves):
        try:
            decoded = leaf_codec.decode_any(data)
        except AuditError:
            continue
        if isinstance(decoded, leaf_codec.Leaf):
            receipts.append(Receipt(decoded.customer, decoded.brand, decoded.block_number, decoded.released_at))
        elif isinstance(decoded, leaf_codec.PropagationLeaf):
            steps.append(Step(index, decoded))
    changes = _revocations(rpc, log)
    changes += [Change(ERASED, customer, erased_at) for customer, erased_at in log.erasures]
    latest = rpc.get_block("latest")
    return notices(changes, receipts, steps), int(str(latest["timestamp"]), 16)
