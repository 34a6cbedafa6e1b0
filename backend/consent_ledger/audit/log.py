"""The access log in the database: leaves, the tree's nodes and its head, shared by every replica.

Leaves are appended inside the same database transaction that commits their release receipts, so a
receipt never exists without its leaf. The order is decided in the database: an append first updates
the one `log_head` row (PostgreSQL locks that row until the transaction ends, SQLite takes its write
lock), then reads the size and frontier it now owns, writes the leaves at the next indexes and the
complete nodes they close, and stores the new frontier. Any number of processes and hosts can append;
indexes stay dense and every replica serves the same tree. Heads and proofs are computed from the
stored nodes (`audit.merkle` plans which ones), never from a copy held in memory. There is no update
or delete path for leaves or nodes.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, insert, literal, select, union_all, update
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.audit.errors import AuditError, ProofError
from consent_ledger.audit.export_file import LogFile
from consent_ledger.audit.leaf import AnyLeaf
from consent_ledger.audit.merkle import (
    Frontier,
    Node,
    Range,
    consistency_ranges,
    empty_root,
    fold,
    inclusion_ranges,
    leaf_hash,
    range_nodes,
)
from consent_ledger.audit.models import LogAnchor, LogHead, LogLeaf, LogNode, node_id
from consent_ledger.db.base import BIGINT_MAX
from consent_ledger.errors import NotFoundError


@dataclass(frozen=True, slots=True)
class Anchor:
    size: int
    root: str
    custodian: str
    tx_hash: str
    block_number: int
    block_hash: str
    anchored_at: datetime

    def to_json(self) -> dict[str, object]:
        return {
            "size": self.size,
            "root": self.root,
            "custodian": self.custodian,
            "tx_hash": self.tx_hash,
            "block_number": self.block_number,
            "block_hash": self.block_hash,
            "anchored_at": self.anchored_at.isoformat(),
        }


def _frontier(session: Session) -> Frontier:
    row = session.execute(select(LogHead.size, LogHead.frontier).where(LogHead.id == HEAD_ID)).one_or_none()
    if row is None:
        raise AuditError("the access log has no head row: run `consent-ledger db upgrade`")
    return Frontier.decode(int(row[0]), bytes(row[1]))


def _require_row_number(number: int, what: str) -> None:
    """A leaf index or tree size past a BIGINT names nothing stored (and the database must not see it)."""
    if not 0 <= number <= BIGINT_MAX:
        raise NotFoundError(f"no {what} {number}")


def _require_size(size: int, committed: int) -> None:
    if not 0 <= size <= committed:
        raise ProofError(f"tree size {size} is out of range: the log holds {committed} leaves")


def _load_nodes(session: Session, wanted: set[Node]) -> dict[Node, bytes]:
    """The stored hashes of `wanted` nodes (level 0 from the leaves, higher levels from log_nodes): one
    query per chunk, always the same statement (so SQLAlchemy compiles it once)."""
    found: dict[Node, bytes] = {}
    ordered = sorted(wanted)
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        ids = {node_id(level, position): (level, position) for level, position in chunk}
        rows = session.execute(
            _NODES_QUERY,
            {
                "leaves": [position for level, position in chunk if level == 0],
                "nodes": [k for k, n in ids.items() if n[0]],
            },
        )
        for is_leaf, key, digest in rows:
            found[(0, int(key)) if is_leaf else ids[int(key)]] = bytes(digest)
    missing = wanted - found.keys()
    if missing:
        raise AuditError(
            f"the stored tree lacks {len(missing)} nodes (e.g. {min(missing)}): the database is incomplete"
        )
    return found


def _anchor(row: LogAnchor) -> Anchor:
    return Anchor(row.size, row.root, row.custodian, row.tx_hash, row.block_number, row.block_hash, row.anchored_at)


@dataclass(frozen=True, slots=True)
class TreeHead:
    size: int
    root: bytes


HEAD_ID = 1
_CHUNK = 500  # parameters per IN list
_NODES_QUERY = union_all(
    select(literal(1), LogLeaf.index, LogLeaf.leaf_hash).where(LogLeaf.index.in_(bindparam("leaves", expanding=True))),
    select(literal(0), LogNode.id, LogNode.hash).where(LogNode.id.in_(bindparam("nodes", expanding=True))),
)


def lock_head(session: Session) -> None:
    """Take the log head's lock in `session`'s open transaction (held until it ends), as an append does first:
    a check made after this cannot race another appender in any process, e.g. "is this leaf already logged?"."""
    locked = session.execute(
        update(LogHead)
        .where(LogHead.id == HEAD_ID)
        .values(size=LogHead.size)
        .execution_options(synchronize_session=False)
    )
    if locked.rowcount != 1:  # type: ignore[attr-defined]
        raise AuditError("the access log has no head row: run `consent-ledger db upgrade`")


def append_leaves(session: Session, leaves: Sequence[AnyLeaf]) -> list[int]:
    """Add `leaves` to `session`'s open transaction at the next indexes, with the nodes they complete and
    the new head; the caller commits (with whatever else it put in the transaction, e.g. the receipts).
    Holds the head's lock from here to that commit: concurrent appenders, in any process, wait."""
    if not leaves:
        return []
    encoded = [leaf.encode() for leaf in leaves]
    hashes = [leaf_hash(data) for data in encoded]
    # The write comes first so the lock is taken before the head is read (a read first would let two
    # SQLite connections read the same size, and would not lock the row on PostgreSQL).
    grown = session.execute(
        update(LogHead)
        .where(LogHead.id == HEAD_ID)
        .values(size=LogHead.size + len(leaves))
        .execution_options(synchronize_session=False)
    )
    if grown.rowcount != 1:  # type: ignore[attr-defined]
        raise AuditError("the access log has no head row: run `consent-ledger db upgrade`")
    size, stored = session.execute(select(LogHead.size, LogHead.frontier).where(LogHead.id == HEAD_ID)).one()
    start = int(size) - len(leaves)
    frontier = Frontier.decode(start, bytes(stored))
    nodes: list[dict[str, object]] = []
    for digest in hashes:
        nodes.extend({"id": node_id(*node), "hash": value} for node, value in frontier.append(digest))
    session.execute(  # the tables, not the entities: the ORM's bulk insert costs more than the rest of the append
        insert(LogLeaf.__table__),  # type: ignore[arg-type]
        [
            {"index": start + n, "receipt_id": leaf.receipt_id, "leaf": data, "leaf_hash": digest}
            for n, (leaf, data, digest) in enumerate(zip(leaves, encoded, hashes, strict=True))
        ],
    )
    if nodes:
        session.execute(insert(LogNode.__table__), nodes)  # type: ignore[arg-type]
    session.execute(
        update(LogHead)
        .where(LogHead.id == HEAD_ID)
        .values(frontier=frontier.encode())
        .execution_options(synchronize_session=False)
    )
    return list(range(start, start + len(leaves)))


class AccessLog:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory

    @property
    def size(self) -> int:
        return self.head().size

    def head(self) -> TreeHead:
        """The committed size and root, read together."""
        with self._sessions() as session:
            frontier = _frontier(session)
        return TreeHead(frontier.size, frontier.root())

    def append(self, session: Session, leaves: Sequence[AnyLeaf]) -> list[int]:
        """`append_leaves` (the log's state is all in the database: any session of it will do)."""
        return append_leaves(session, leaves)

    def append_and_commit(self, session: Session, leaves: Sequence[AnyLeaf]) -> list[int]:
        """`append`, then COMMIT `session`'s transaction."""
        indexes = self.append(session, leaves)
        session.commit()
        return indexes

    def root(self, size: int) -> bytes:
        """MTH of the first `size` leaves, from the stored nodes."""
        with self._sessions() as session:
            frontier = _frontier(session)
            _require_size(size, frontier.size)
            if size == frontier.size:
                return frontier.root()
            if size == 0:
                return empty_root()
            nodes = range_nodes(0, size)
            hashes = _load_nodes(session, set(nodes))
        return fold([hashes[node] for node in nodes])

    def leaf_hash(self, index: int) -> bytes:
        _require_row_number(index, "leaf")
        with self._sessions() as session:
            digest = session.scalar(select(LogLeaf.leaf_hash).where(LogLeaf.index == index))
        if digest is None:
            raise NotFoundError(f"no leaf {index} (the log holds {self.size})")
        return bytes(digest)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[0:size]), nearest sibling first."""
        return self.inclusion_proofs([index], size)[index]

    def inclusion_proofs(self, indexes: Sequence[int], size: int) -> dict[int, list[bytes]]:
        """{index: PATH(index, D[0:size])} for many leaves, with one read of the nodes they need."""
        plans = {index: inclusion_ranges(index, size) for index in indexes}
        return self._hash_ranges(plans, size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """PROOF(old_size, D[0:new_size])."""
        return self._hash_ranges({0: consistency_ranges(old_size, new_size)}, new_size)[0]

    def _hash_ranges(self, plans: dict[int, list[Range]], size: int) -> dict[int, list[bytes]]:
        wanted = {node for ranges in plans.values() for start, end in ranges for node in range_nodes(start, end)}
        with self._sessions() as session:
            _require_size(size, _frontier(session).size)
            hashes = _load_nodes(session, wanted)
        return {
            key: [fold([hashes[node] for node in range_nodes(start, end)]) for start, end in ranges]
            for key, ranges in plans.items()
        }

    def leaf(self, index: int) -> bytes:
        _require_row_number(index, "leaf")
        with self._sessions() as session:
            row = session.get(LogLeaf, index)
            if row is None:
                raise NotFoundError(f"no leaf {index} (the log holds {self.size})")
            return bytes(row.leaf)

    def leaves_of(self, receipt_ids: Sequence[str]) -> dict[str, tuple[int, bytes]]:
        """{receipt id: (leaf index, leaf bytes)} for the receipts that have a leaf, in one query."""
        with self._sessions() as session:
            rows = session.execute(
                select(LogLeaf.receipt_id, LogLeaf.index, LogLeaf.leaf).where(LogLeaf.receipt_id.in_(list(receipt_ids)))
            )
            return {receipt: (int(index), bytes(leaf)) for receipt, index, leaf in rows}

    def leaves(self, start: int = 0, stop: int | None = None) -> list[bytes]:
        with self._sessions() as session:
            query = select(LogLeaf.leaf).where(LogLeaf.index >= start).order_by(LogLeaf.index)
            if stop is not None:
                query = query.where(LogLeaf.index < stop)
            return [bytes(b) for b in session.scalars(query)]

    def record_anchor(self, anchor: Anchor) -> None:
        """Store an anchor the chain mined (again: a re-mined anchor replaces the stored one of its size)."""
        with self._sessions.begin() as session:
            row = session.get(LogAnchor, anchor.size, with_for_update=True)
            if row is None:
                row = LogAnchor(size=anchor.size)
                session.add(row)
            row.root = anchor.root
            row.custodian = anchor.custodian
            row.tx_hash = anchor.tx_hash
            row.block_number = anchor.block_number
            row.block_hash = anchor.block_hash
            row.anchored_at = anchor.anchored_at

    def remove_anchor(self, anchor: Anchor) -> bool:
        """Forget an anchor whose block left the chain (only if it is still stored in that block)."""
        with self._sessions.begin() as session:
            result = session.execute(
                delete(LogAnchor)
                .where(LogAnchor.size == anchor.size, LogAnchor.block_hash == anchor.block_hash)
                .returning(LogAnchor.size)
            )
            return result.first() is not None

    def anchors_above(self, block_number: int) -> list[Anchor]:
        """Anchors stored in blocks newer than `block_number` (the ones a reorg can still take away)."""
        with self._sessions() as session:
            query = select(LogAnchor).where(LogAnchor.block_number > block_number).order_by(LogAnchor.size)
            return [_anchor(r) for r in session.scalars(query)]

    def anchors(self) -> list[Anchor]:
        with self._sessions() as session:
            return [_anchor(r) for r in session.scalars(select(LogAnchor).order_by(LogAnchor.size))]

    def latest_anchor(self) -> Anchor | None:
        with self._sessions() as session:
            row = session.scalars(select(LogAnchor).order_by(LogAnchor.size.desc()).limit(1)).first()
            return None if row is None else _anchor(row)

    def anchor_at(self, size: int) -> Anchor:
        _require_row_number(size, "anchor at size")
        with self._sessions() as session:
            row = session.get(LogAnchor, size)
            if row is None:
                raise NotFoundError(f"no anchor at size {size}")
            return _anchor(row)

    def export(self, chain_id: int, contract: str, custodian: str, from_block: int) -> LogFile:
        """What the custodian hands an auditor: every leaf, every recorded anchor, and the consistency
        proof between each two consecutive anchors, from the stored tree (as the API serves them)."""
        anchors = self.anchors()
        exported = LogFile(
            chain_id,
            contract,
            custodian,
            from_block,
            leaves=list(enumerate(self.leaves())),
            anchors=[
                {
                    "size": a.size,
                    "root": a.root,
                    "tx_hash": a.tx_hash,
                    "block_number": a.block_number,
                    "block_hash": a.block_hash,  # so the verifier can tell whether that block is gone
                }
                for a in anchors
            ],
        )
        for first, second in itertools.pairwise(anchors):
            exported.proofs[(first.size, second.size)] = self.consistency_proof(first.size, second.size)
        return exported
