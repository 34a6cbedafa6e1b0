"""Build RFC 9162 (Certificate Transparency v2, section 2.1) Merkle trees and plan their proofs.

Hashing (SHA-256, domain-separated: 0x00 for leaves, 0x01 for interior nodes), tree heads (MTH), inclusion
proofs (PATH) and consistency proofs (PROOF/SUBPROOF). Pure and in memory: nothing here touches storage, and
checking a proof is `audit.verify`'s job.

Every hash a head or a proof needs is a fold of *complete aligned subtrees*: node (level k, position i) is the
hash of the 2^k leaves starting at leaf i * 2^k. The planners here (`range_nodes`, `inclusion_ranges`,
`consistency_ranges`) say which nodes a head or a proof needs, so any store that keeps those nodes (this
module's in-memory `MerkleTree`, or the database behind `audit.log`) answers with lookups only. `Frontier`
is the compact state needed to append: the roots of the complete subtrees covering the whole tree
(one per set bit of its size); appending reports the complete nodes it closes, for the store to keep.
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


Node = tuple[int, int]
"""(level, position): the complete subtree of leaves [position * 2^level, (position + 1) * 2^level)."""

Range = tuple[int, int]
"""[start, end): the leaves a subtree hash covers."""


def range_nodes(start: int, end: int) -> list[Node]:
    """The complete aligned nodes whose right fold (`fold`) is MTH(D[start:end]), left to right.

    Defined for the ranges RFC 9162 trees are made of (every range a head or a proof hashes): the RFC's
    split rule cuts them into a complete left part and the rest, until the rest is complete too."""
    if not 0 <= start < end:
        raise ProofError(f"an empty or reversed leaf range [{start}, {end}) has no subtree hash")
    nodes: list[Node] = []
    while True:
        count = end - start
        if count & (count - 1) == 0:
            level = count.bit_length() - 1
            left = count
        else:
            left = _split(count)
            level = left.bit_length() - 1
        if start & (left - 1):
            raise ProofError(f"leaf range [{start}, {end}) is not a subtree of an RFC 9162 tree")
        nodes.append((level, start >> level))
        start += left
        if start == end:
            return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """node_hash(h0, node_hash(h1, ... node_hash(h[n-2], h[n-1]))): a range's hash from its `range_nodes`."""
    if not hashes:
        raise ProofError("nothing to fold: a subtree covers at least one leaf")
    result = hashes[-1]
    for item in reversed(hashes[:-1]):
        result = node_hash(item, result)
    return result


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The leaf ranges whose hashes make PATH(index, D[0:size]) (RFC 9162 2.1.3.1), nearest sibling first."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is out of range for a tree of {size} leaves")
    # Walk down from the root; each step keeps the half holding the leaf and records the other half.
    siblings: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        middle = start + _split(end - start)
        if index < middle:
            siblings.append((middle, end))
            end = middle
        else:
            siblings.append((start, middle))
            start = middle
    siblings.reverse()
    return siblings


def consistency_ranges(old_size: int, new_size: int) -> list[Range]:
    """The leaf ranges whose hashes make PROOF(old_size, D[0:new_size]) (RFC 9162 2.1.4.1); none when the
    sizes are equal."""
    if not 0 < old_size <= new_size:
        raise ProofError(
            f"a consistency proof needs 0 < old size <= new size, got old size {old_size}, new size {new_size}"
        )
    # SUBPROOF(m, D[start:end], whole) unrolled: `whole` stays true while the old tree is a left-edge subtree.
    siblings: list[Range] = []
    start, end, whole = 0, new_size, True
    while old_size < end:
        middle = start + _split(end - start)
        if old_size <= middle:
            siblings.append((middle, end))
            end = middle
        else:
            siblings.append((start, middle))
            start, whole = middle, False
    if not whole:
        siblings.append((start, end))
    siblings.reverse()
    return siblings


class Frontier:
    """The compact state of a tree for appending: its size and the hashes of `range_nodes(0, size)`."""

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(hashes) != size.bit_count():
            raise AuditError(
                f"a frontier of a tree of {size} leaves holds {max(size, 0).bit_count()} hashes, got {len(hashes)}"
            )
        for item in hashes:
            _require_leaf_hash(item)
        self._size = size
        self._hashes = list(hashes)

    @classmethod
    def decode(cls, size: int, data: bytes) -> Frontier:
        """From `encode()`'s bytes: the hashes concatenated, largest subtree first."""
        return cls(size, [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)])

    def encode(self) -> bytes:
        return b"".join(self._hashes)

    @property
    def size(self) -> int:
        return self._size

    def root(self) -> bytes:
        """MTH(D[0:size])."""
        return fold(self._hashes) if self._hashes else _EMPTY_ROOT

    def append(self, leaf_hash: bytes) -> list[tuple[Node, bytes]]:
        """Add one leaf hash; returns the complete nodes of level >= 1 this leaf closes, lowest first."""
        _require_leaf_hash(leaf_hash)
        index = self._size
        closed: list[tuple[Node, bytes]] = []
        current, level = leaf_hash, 0
        # Leaf `index` closes a node at level k+1 for every trailing one bit k of its index.
        while (index >> level) & 1:
            current = node_hash(self._hashes.pop(), current)
            level += 1
            closed.append(((level, index >> level), current))
        self._hashes.append(current)
        self._size += 1
        return closed


class MerkleTree:
    """An append-only Merkle tree over leaf hashes kept in memory, answering tree heads and proofs for any
    past size."""

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        # _levels[k][i]: hash of node (k, i), the complete subtree of leaves [i * 2^k, (i + 1) * 2^k).
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

    def node(self, node: Node) -> bytes:
        level, position = node
        return self._levels[level][position]

    def root(self, size: int | None = None) -> bytes:
        """The tree head MTH(D[0:size]) of the first `size` leaves; the whole tree by default."""
        if size is None:
            size = self.size
        self._require_size(size)
        return self._hash(0, size) if size else _EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[0:size]) (RFC 9162 2.1.3.1): the audit path from leaf `index` to the head of `size` leaves,
        nearest sibling first."""
        self._require_size(size)
        return [self._hash(start, end) for start, end in inclusion_ranges(index, size)]

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """PROOF(old_size, D[0:new_size]) (RFC 9162 2.1.4.1): shows the head of `old_size` leaves is a prefix of the
        head of `new_size` leaves. Empty when the sizes are equal."""
        self._require_size(new_size)
        return [self._hash(start, end) for start, end in consistency_ranges(old_size, new_size)]

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

    def _hash(self, start: int, end: int) -> bytes:
        return fold([self.node(node) for node in range_nodes(start, end)])

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
