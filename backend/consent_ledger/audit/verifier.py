"""The independent verifier: an exported log file and a JSON-RPC endpoint, nothing else.

It recomputes the Merkle tree from the leaves; checks that every anchor the file lists is on-chain;
checks every anchor the custodian wrote on-chain against the recomputed root at that size; checks
the custodian's consistency proof between each two consecutive on-chain anchors against those two
roots alone; flags leaves no on-chain anchor covers; and re-checks every release against the grant
state at the block it was decided at (one batch-view eth_call per block, pinned by number after
checking the block hash). Insight-query leaves (version 2: aggregates, no record left) are counted
with the epsilon each brand was charged, and their block must be canonical too. Propagation leaves
(version 3: a brand was told of an event, or acknowledged it) are counted per step, and every revocation
(on-chain) and erasure (declared in the file) of a customer whose data a brand received must have a
delivered leaf for that brand once `ack_within` seconds have passed (else a `not_told` violation); a
delivered one still without a settling acknowledgement by then is reported in `Report.unacknowledged`
(the brand's lapse, not the log's: it leaves the status as it is). Each check can fail
on its own; tests/integration/test_audit_verifier.py makes each one fail.

What it could not check is reported apart from violations (`Report.unverified`): releases whose block
the chain no longer has (a node restarted from an older state), and blocks whose state the node cannot
answer for (a node that keeps no historical state). A log with no violation but something unverified is
not a clean log: `Report.status` is "ok", "violations" or "unverified".
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from consent_ledger.audit import leaf as leaf_codec
from consent_ledger.audit.errors import AuditError, ProofError, RootMismatchError
from consent_ledger.audit.export_file import LogFile
from consent_ledger.audit.merkle import MerkleTree, leaf_hash
from consent_ledger.audit.notices import Pending, overdue
from consent_ledger.audit.verify import verify_consistency
from consent_ledger.audit.verify_notices import logged_notices
from consent_ledger.chain.events import ANCHORED, Anchored, decode_logs
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.domain import Query
from consent_ledger.errors import ChainError, RpcError

Progress = Callable[[str, int, int], None]
ACK_WITHIN = 86_400  # seconds a brand has to be told of a revocation or erasure, and to acknowledge it


@dataclass
class Violation:
    kind: str
    detail: str
    leaf: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "leaf": self.leaf, "detail": self.detail}


Unverified = Violation  # same shape: kind, detail, leaf; kinds `block_gone`, `state_unavailable`


@dataclass
class Report:
    leaves: int = 0
    anchors: int = 0
    releases_checked: int = 0
    blocks: int = 0
    insight_queries: int = 0
    insight_epsilon: dict[str, float] = field(default_factory=dict)  # brand -> epsilon charged in the log
    propagation_steps: dict[str, int] = field(default_factory=dict)  # "delivered"/"acknowledged" -> v3 leaves
    notices_owed: int = 0  # revocations and erasures owed to a brand that received the customer's data
    # told, but not acknowledged in time: the brand's lapse (a `not_told` notice is the custodian's: a violation)
    unacknowledged: list[Violation] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    unverified: list[Unverified] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No violation and nothing left unchecked."""
        return not self.violations and not self.unverified

    @property
    def status(self) -> str:
        """ "violations" when any was found, else "unverified" when something could not be checked, else "ok"."""
        if self.violations:
            return "violations"
        return "unverified" if self.unverified else "ok"

    def summary(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "status": self.status,
            "leaves": self.leaves,
            "anchors": self.anchors,
            "releases_checked": self.releases_checked,
            "blocks": self.blocks,
            "insight_queries": self.insight_queries,
            "insight_epsilon": {brand: round(spent, 6) for brand, spent in sorted(self.insight_epsilon.items())},
            "propagation_steps": dict(sorted(self.propagation_steps.items())),
            "notices_owed": self.notices_owed,
            "not_told": sum(v.kind == "not_told" for v in self.violations),
            "unacknowledged": len(self.unacknowledged),
            "violations": len(self.violations),
            "unverified": len(self.unverified),
        }


def _tree(log: LogFile, report: Report) -> tuple[MerkleTree, list[bytes]]:
    tree = MerkleTree()
    leaves: list[bytes] = []
    for position, (index, data) in enumerate(log.leaves):
        if index != position:
            report.violations.append(
                Violation("log_structure", f"line for leaf {index} found where leaf {position} belongs", position)
            )
            break
        tree.append(leaf_hash(data))
        leaves.append(data)
    report.leaves = len(leaves)
    return tree, leaves


def _onchain_anchors(rpc: RpcClient, log: LogFile) -> list[Anchored]:
    topic = "0x" + "00" * 12 + log.custodian[2:].lower()
    raw = rpc.request(
        "eth_getLogs",
        [{"address": log.contract, "fromBlock": hex(log.from_block), "toBlock": "latest", "topics": [ANCHORED, topic]}],
        slow=True,
    )
    return [e for e in decode_logs(raw, log.contract) if isinstance(e, Anchored)]


def _listed_anchor(listed: dict[str, Any]) -> tuple[int, str] | None:
    try:
        return int(listed["size"]), str(listed["root"]).lower()
    except (KeyError, TypeError, ValueError):
        return None


def _check_listed_anchors(rpc: RpcClient, log: LogFile, onchain: dict[int, str], report: Report) -> None:
    """Every anchor the file lists must be one the custodian wrote on-chain."""
    for listed in log.anchors:
        anchor = _listed_anchor(listed)
        if anchor is None or onchain.get(anchor[0]) != anchor[1]:
            report.violations.append(
                Violation(
                    "anchor_not_on_chain",
                    f"the file's anchor at size {listed.get('size')} is not on-chain{_where_it_was(rpc, listed)}",
                )
            )


def _check_consistency(log: LogFile, previous: Anchored, anchor: Anchored, report: Report) -> None:
    """The custodian's proof that the log at `previous` is a prefix of the log at `anchor`, checked
    against the two roots on-chain alone (not the file's leaves): the custodian's anchors form one
    append-only history, including where the file's leaves do not reach."""
    sizes = (previous.size, anchor.size)
    proof = log.proofs.get(sizes)
    if proof is None:
        report.violations.append(
            Violation(
                "consistency_proof_missing",
                f"the file carries no consistency proof from size {sizes[0]} to {sizes[1]} "
                "(ask the custodian for GET /v1/audit/consistency, or a new export)",
            )
        )
        return
    try:
        verify_consistency(*sizes, bytes.fromhex(previous.root[2:]), bytes.fromhex(anchor.root[2:]), proof)
    except (ProofError, RootMismatchError) as error:
        report.violations.append(
            Violation(
                "inconsistent_anchors",
                f"sizes {sizes[0]} -> {sizes[1]}: the roots anchored on-chain (tx {previous.at.tx_hash}, "
                f"{anchor.at.tx_hash}) are not shown to be one growing log: {error}",
            )
        )


def _check_anchors(rpc: RpcClient, log: LogFile, tree: MerkleTree, report: Report) -> None:
    anchors = sorted(_onchain_anchors(rpc, log), key=lambda a: a.size)
    report.anchors = len(anchors)
    _check_listed_anchors(rpc, log, {a.size: a.root.lower() for a in anchors}, report)
    for previous, anchor in itertools.pairwise(anchors):
        _check_consistency(log, previous, anchor, report)
    for anchor in anchors:
        if anchor.size > tree.size:
            report.violations.append(
                Violation("anchor_beyond_log", f"anchored size {anchor.size} but the log holds {tree.size} leaves")
            )
            continue
        computed = "0x" + tree.root(anchor.size).hex()
        if computed != anchor.root.lower():
            report.violations.append(
                Violation(
                    "anchor_root_mismatch",
                    f"at size {anchor.size} the log's root is {computed}, the chain holds {anchor.root}"
                    f" (tx {anchor.at.tx_hash})",
                )
            )
    covered = max((a.size for a in anchors if a.size <= tree.size), default=0)
    if tree.size > covered:
        report.violations.append(
            Violation(
                "unanchored_leaves",
                f"leaves {covered}..{tree.size - 1} are not covered by any on-chain anchor",
                covered,
            )
        )


def _where_it_was(rpc: RpcClient, listed: dict[str, Any]) -> str:
    """For an anchor the chain does not hold: whether the block the custodian recorded it in is gone."""
    number = listed.get("block_number")
    if not isinstance(number, int):
        return ""
    header = rpc.get_block_or_none(number)
    if header is None:
        return f" (recorded in block {number}, which the chain no longer has: was the node restarted?)"
    recorded = listed.get("block_hash")
    if isinstance(recorded, str) and recorded.lower() != str(header["hash"]).lower():
        return f" (recorded in block {number} {recorded}, which is gone: that height now holds {header['hash']})"
    return f" (recorded in block {number}, tx {listed.get('tx_hash')})"


def _check_releases(rpc: RpcClient, log: LogFile, leaves: list[bytes], report: Report, progress: Progress) -> None:
    ledger = Ledger(rpc, log.contract, [])  # only the batch view is used: no ABI needed
    by_block: dict[int, list[tuple[int, leaf_codec.Leaf | leaf_codec.InsightLeaf]]] = defaultdict(list)
    for index, data in enumerate(leaves):
        try:
            decoded = leaf_codec.decode_any(data)
        except AuditError as error:
            report.violations.append(Violation("log_structure", str(error), index))
            continue
        if isinstance(decoded, leaf_codec.PropagationLeaf):
            report.propagation_steps[decoded.step] = report.propagation_steps.get(decoded.step, 0) + 1
            continue  # decided at no block: checked against the revocations and erasures it answers
        if isinstance(decoded, leaf_codec.InsightLeaf):
            report.insight_queries += 1
            report.insight_epsilon[decoded.brand] = report.insight_epsilon.get(decoded.brand, 0.0) + decoded.epsilon
        by_block[decoded.block_number].append((index, decoded))
    blocks = sorted(by_block)
    report.blocks = len(blocks)
    done = 0
    for start in range(0, len(blocks), 100):
        group = blocks[start : start + 100]
        headers = rpc.batch([("eth_getBlockByNumber", [hex(b), False]) for b in group])
        for number, header in zip(group, headers, strict=True):
            _check_block(ledger, number, header, by_block[number], report)
            done += len(by_block[number])
            progress("releases", done, len(leaves))


def _check_block(
    ledger: Ledger,
    number: int,
    header: dict[str, Any] | None,
    entries: list[tuple[int, leaf_codec.Leaf | leaf_codec.InsightLeaf]],
    report: Report,
) -> None:
    """The releases decided at block `number`: is that block still the chain's, and did a grant cover each?"""
    if header is None:
        report.unverified.extend(
            Unverified(
                "block_gone",
                f"receipt {entry.receipt_id} was decided at block {number}, which the chain no longer "
                "has (was the node restarted from an older state?): it cannot be re-checked",
                index,
            )
            for index, entry in entries
        )
        return
    canonical = str(header["hash"]).lower()
    for index, entry in entries:
        if entry.block_hash.lower() != canonical:
            report.violations.append(
                Violation(
                    "block_not_canonical",
                    f"receipt {entry.receipt_id} was decided at block {number} {entry.block_hash}, "
                    f"which is not on the canonical chain",
                    index,
                )
            )
    current = [
        (i, e) for i, e in entries if e.block_hash.lower() == canonical and isinstance(e, leaf_codec.Leaf)
    ]  # an insight query released no record: only its block is checked
    if not current:
        return
    queries = [Query(e.customer, e.brand, e.categories, e.purposes) for _, e in current]
    try:
        answers = ledger.are_allowed(queries, number)
    except RpcError as error:  # the node answers, but not for this block's state
        report.unverified.extend(
            Unverified(
                "state_unavailable",
                f"receipt {entry.receipt_id}: the node cannot answer for the state of block {number} "
                f"({error}); point --rpc at a node that keeps historical state (an archive node)",
                index,
            )
            for index, entry in current
        )
        return
    for (index, entry), allowed in zip(current, answers, strict=True):
        report.releases_checked += 1
        if not allowed:
            report.violations.append(
                Violation(
                    "release_without_grant",
                    f"receipt {entry.receipt_id}: {entry.brand} received categories "
                    f"{entry.categories:#x} of {entry.customer} for purposes {entry.purposes:#x}, "
                    f"which no grant covered at block {number}",
                    index,
                )
            )


def _describe(late: Pending) -> str:
    n = late.notice
    change = "revocation" if n.event_type == "consent.revoked" else "erasure"
    where = f" (block {n.block_number}, tx {n.tx_hash})" if n.block_number is not None else ""
    if late.kind == "not_told":
        return (
            f"{n.brand} received data of {n.customer} but the log shows no delivery of the {change}{where} "
            f"after {late.waiting} s"
        )
    return f"{n.brand} was told of the {change} of {n.customer}{where} {late.waiting} s ago and has not acknowledged it"


def _check_notices(rpc: RpcClient, log: LogFile, leaves: list[bytes], report: Report, within: int) -> None:
    """Every revocation and erasure owed to a brand has a delivered leaf (else `not_told`, a violation) and a
    settling acknowledgement (else `unacknowledged`), each once `within` seconds have passed."""
    found, now = logged_notices(rpc, log, leaves)
    report.notices_owed = sum(n.owed for n in found)
    for late in overdue(found, now, within):
        step = late.notice.told
        item = Violation(late.kind, _describe(late), None if step is None else step.index)
        (report.violations if late.kind == "not_told" else report.unacknowledged).append(item)


def verify_log(
    rpc: RpcClient, log: LogFile, progress: Progress = lambda _s, _d, _t: None, *, ack_within: int = ACK_WITHIN
) -> Report:
    """Every check. What could not be checked goes to `report.unverified`; a node that does not answer at all
    raises (a verification that could not run is not a clean one). `ack_within`: seconds after which an owed
    notice not delivered is `not_told` and one delivered but not acknowledged is `unacknowledged`."""
    report = Report()
    if rpc.chain_id() != log.chain_id:
        raise ChainError(f"the log is for chain {log.chain_id}, the RPC serves chain {rpc.chain_id()}")
    tree, leaves = _tree(log, report)
    progress("tree", len(leaves), len(log.leaves))
    _check_anchors(rpc, log, tree, report)
    _check_releases(rpc, log, leaves, report, progress)
    _check_notices(rpc, log, leaves, report, ack_within)
    return report
