"""Build RFC 9162 (Certificate Transparency v2, section 2.1) Merkle trees and plan their proofs.

Hashing (SHA-256, domain-separated: 0x00 for leaves, 0x01 for interior nodes), tree heads (MTH), inclusion
proofs (PATH) and consistency proofs (PROOF/SUBPROOF). Pure and in memory: nothing here touches storage, and
checking a proof is `audit.verify`'s job.

`MerkleTree` keeps every complete aligned subtree hash: level k holds, at position i, the hash of the 2^k leaves
starting at leaf i * 2^k. Appending updates O(log n) levels (O(1) amortised); the hash of any subtree a proof
needs is then a lookup or a fold of O(log n) lookups, so a tree head or a proof costs O(log^2 n) at worst.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from consent_ledger.audit.errors import AuditError, ProofError

HASH_SIZE = 32
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_EMPTY_ROOT = hashlib.sha256(b"").digest()


def empty_root() -> bytes:
    """MTH({}): the root of the empty tree, SHA-256 of the empty string."""
    return _EMPTY_ROOT


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d): the hash of one log entry."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over already hashed leaves (RFC 9162 2.1.1); the empty sequence gives `empty_root()`.

    Computed bottom-up: pair neighbours level by level and carry an odd last node up unchanged, which builds
    exactly the tree of the RFC's "largest power of two smaller than n" split.
    """
    level = list(leaf_hashes)
    for item in level:
        _require_leaf_hash(item)
    if not level:
        return _EMPTY_ROOT
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


class MerkleTree:
    """An append-only Merkle tree over leaf hashes, answering tree heads and proofs for any past size."""

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        # _levels[k][i]: hash of the complete subtree of leaves [i * 2^k, (i + 1) * 2^k).
        self._levels: list[list[bytes]] = [[]]
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        """How many leaves the tree holds."""
        return len(self._levels[0])

    def append(self, leaf_hash: bytes) -> int:
        """Add one leaf hash (see `leaf_hash()`) and return its index."""
        _require_leaf_hash(leaf_hash)
        return self._append(leaf_hash)

    def extend(self, hashes: Iterable[bytes]) -> None:
        """Add leaf hashes in order; all are checked first, so a bad one adds none."""
        batch = list(hashes)
        for item in batch:
            _require_leaf_hash(item)
        for item in batch:
            self._append(item)

    def leaf(self, index: int) -> bytes:
        """The leaf hash at `index` (0-based; negative indexes are refused)."""
        if not 0 <= index < self.size:
            raise ProofError(f"leaf index {index} is out of range for a tree of {self.size} leaves")
        return self._levels[0][index]

    def root(self, size: int | None = None) -> bytes:
        """The tree head MTH(D[0:size]) of the first `size` leaves; the whole tree by default."""
        if size is None:
            size = self.size
        self._require_size(size)
        return self._subtree(0, size) if size else _EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[0:size]) (RFC 9162 2.1.3.1): the audit path from leaf `index` to the head of `size` leaves,
        nearest sibling first."""
        self._require_size(size)
        if not 0 <= index < size:
            raise ProofError(f"leaf index {index} is out of range for a tree of {size} leaves")
        # Walk down from the root; each step keeps the half holding the leaf and records the other half.
        siblings: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            middle = start + _split(end - start)
            if index < middle:
                siblings.append(self._subtree(middle, end))
                end = middle
            else:
                siblings.append(self._subtree(start, middle))
                start = middle
        siblings.reverse()
        return siblings

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """PROOF(old_size, D[0:new_size]) (RFC 9162 2.1.4.1): shows the head of `old_size` leaves is a prefix of the
        head of `new_size` leaves. Empty when the sizes are equal."""
        self._require_size(new_size)
        if not 0 < old_size <= new_size:
            raise ProofError(
                f"a consistency proof needs 0 < old size <= new size, got old size {old_size}, new size {new_size}"
            )
        # SUBPROOF(m, D[start:end], whole) unrolled: `whole` stays true while the old tree is a left-edge subtree.
        siblings: list[bytes] = []
        start, end, whole = 0, new_size, True
        while old_size < end:
            middle = start + _split(end - start)
            if old_size <= middle:
                siblings.append(self._subtree(middle, end))
                end = middle
            else:
                siblings.append(self._subtree(start, middle))
                start, whole = middle, False
        if not whole:
            siblings.append(self._subtree(start, end))
        siblings.reverse()
        return siblings

    def _append(self, leaf: bytes) -> int:
        levels = self._levels
        levels[0].append(leaf)
        index = len(levels[0]) - 1
        position, k = index, 0
        # An odd position closes a pair: hash it into the next level, and so on up while positions stay odd.
        while position & 1:
            level = levels[k]
            parent = node_hash(level[-2], level[-1])
            k += 1
            if k == len(levels):
                levels.append([])
            levels[k].append(parent)
            position >>= 1
        return index

    def _subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for 0 <= start < end <= size, by the RFC's split rule."""
        count = end - start
        if count & (count - 1) == 0 and start & (count - 1) == 0:
            # A complete, aligned subtree of 2^k leaves: stored.
            return self._levels[count.bit_length() - 1][start >> (count.bit_length() - 1)]
        middle = start + _split(count)
        return node_hash(self._subtree(start, middle), self._subtree(middle, end))

    def _require_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ProofError(f"tree size {size} is out of range: the tree holds {self.size} leaves")


def _split(count: int) -> int:
    """The largest power of two strictly smaller than `count` (count >= 2)."""
    return 1 << ((count - 1).bit_length() - 1)


def _require_leaf_hash(value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise AuditError(
            f"a leaf hash must be {HASH_SIZE} bytes, got {value!r:.80}: hash the entry with leaf_hash() first"
        )
