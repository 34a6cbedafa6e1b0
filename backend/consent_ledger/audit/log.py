"""The access log in the database, with its Merkle tree kept in memory.

Leaves are appended inside the same database transaction that commits their release receipts, so a
receipt never exists without its leaf. One lock orders appends within the process (the index is
the tree size); the primary key refuses a second writer process racing for the same index, and that
release then fails (503) rather than forking the log. There is no update or delete path.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.audit.leaf import Leaf
from consent_ledger.audit.merkle import MerkleTree, leaf_hash
from consent_ledger.audit.models import LogAnchor, LogLeaf
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


def _anchor(row: LogAnchor) -> Anchor:
    return Anchor(row.size, row.root, row.custodian, row.tx_hash, row.block_number, row.block_hash, row.anchored_at)


class AccessLog:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory
        self._lock = threading.RLock()
        self.tree = MerkleTree()
        with self._sessions() as session:
            hashes = session.scalars(select(LogLeaf.leaf_hash).order_by(LogLeaf.index)).all()
        self.tree.extend([bytes(h) for h in hashes])

    @property
    def size(self) -> int:
        return self.tree.size

    def append_and_commit(self, session: Session, leaves: Sequence[Leaf]) -> list[int]:
        """Add `leaves` to `session`'s open transaction and COMMIT it (with whatever else the caller
        put in it, e.g. the receipts); the in-memory tree grows only after the commit succeeded.
        The lock is held from choosing the indexes until the commit, so indexes stay dense."""
        with self._lock:
            start = self.tree.size
            encoded = [leaf.encode() for leaf in leaves]
            hashes = [leaf_hash(data) for data in encoded]
            rows = [
                {"index": start + n, "receipt_id": leaf.receipt_id, "leaf": data, "leaf_hash": digest}
                for n, (leaf, data, digest) in enumerate(zip(leaves, encoded, hashes, strict=True))
            ]
            if rows:
                session.execute(insert(LogLeaf), rows)
            session.commit()
            self.tree.extend(hashes)
            return [start + n for n in range(len(rows))]

    def leaf(self, index: int) -> bytes:
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
        with self._sessions.begin() as session:
            session.add(
                LogAnchor(
                    size=anchor.size,
                    root=anchor.root,
                    custodian=anchor.custodian,
                    tx_hash=anchor.tx_hash,
                    block_number=anchor.block_number,
                    block_hash=anchor.block_hash,
                    anchored_at=anchor.anchored_at,
                )
            )

    def anchors(self) -> list[Anchor]:
        with self._sessions() as session:
            return [_anchor(r) for r in session.scalars(select(LogAnchor).order_by(LogAnchor.size))]

    def latest_anchor(self) -> Anchor | None:
        with self._sessions() as session:
            row = session.scalars(select(LogAnchor).order_by(LogAnchor.size.desc()).limit(1)).first()
            return None if row is None else _anchor(row)

    def anchor_at(self, size: int) -> Anchor:
        with self._sessions() as session:
            row = session.get(LogAnchor, size)
            if row is None:
                raise NotFoundError(f"no anchor at size {size}")
            return _anchor(row)
