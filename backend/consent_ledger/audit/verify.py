"""Check RFC 9162 (section 2.1.3.2 and 2.1.4.2) inclusion and consistency proofs against trusted tree heads.

Pure: no storage, no network, no tree. Every check raises on failure and none can be switched off:
`ProofError` when a proof cannot fit the sizes it claims, `RootMismatchError` when it leads to another root.
"""

from __future__ import annotations

from collections.abc import Sequence

from consent_ledger.audit.errors import ProofError, RootMismatchError
from consent_ledger.audit.merkle import HASH_SIZE, empty_root, node_hash


def root_from_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root that `proof` gives for leaf hash `leaf_hash` at `index` in a tree of `size` leaves (RFC 9162
    2.1.3.2). Raises `ProofError` when the index is out of range or the proof has the wrong number of hashes."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is out of range for a tree of {size} leaves")
    _require_hash(leaf_hash, "the leaf hash")
    _require_hashes(proof, "inclusion proof")
    fn, sn = index, size - 1
    computed = leaf_hash
    for node in proof:
        if sn == 0:
            raise ProofError(f"inclusion proof for leaf {index} of {size} has too many hashes ({len(proof)})")
        if fn & 1 or fn == sn:
            computed = node_hash(node, computed)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            computed = node_hash(computed, node)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"inclusion proof for leaf {index} of {size} has too few hashes ({len(proof)})")
    return computed


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that leaf hash `leaf_hash` sits at `index` in the tree of `size` leaves whose head is `root`."""
    computed = root_from_inclusion(leaf_hash, index, size, proof)
    if computed != root:
        raise RootMismatchError(expected=root, computed=computed)


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """Check that the tree of `old_size` leaves with head `old_root` is a prefix of the tree of `new_size` leaves
    with head `new_root` (RFC 9162 2.1.4.2).

    Equal sizes need an empty proof and equal roots. Old size 0 needs an empty proof, and `old_root` must then be
    `empty_root()`: every tree extends the empty tree, but only one root belongs to it.
    """
    if old_size < 0 or new_size < 0:
        raise ProofError(f"tree sizes cannot be negative, got old size {old_size}, new size {new_size}")
    if old_size > new_size:
        raise ProofError(f"old size {old_size} is larger than new size {new_size}: a log only grows")
    if old_size in (0, new_size):
        if proof:
            raise ProofError(
                f"a consistency proof from size {old_size} to size {new_size} must be empty, got {len(proof)} hashes"
            )
        if old_size == 0 and old_root != empty_root():
            raise RootMismatchError(expected=old_root, computed=empty_root())
        if old_size == new_size and old_root != new_root:
            raise RootMismatchError(expected=old_root, computed=new_root)
        return
    old_computed, new_computed = _roots_from_consistency(old_size, new_size, old_root, proof)
    if old_computed != old_root:
        raise RootMismatchError(expected=old_root, computed=old_computed)
    if new_computed != new_root:
        raise RootMismatchError(expected=new_root, computed=new_computed)


def _roots_from_consistency(
    old_size: int, new_size: int, old_root: bytes, proof: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """The (old, new) roots a consistency proof gives for 0 < old_size < new_size: RFC 9162 2.1.4.2's bit walk."""
    if not proof:
        raise ProofError(f"the consistency proof from size {old_size} to size {new_size} is empty")
    _require_hashes(proof, "consistency proof")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # The old tree is a complete subtree of the new one: its head is the first node of the path.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    old_computed = new_computed = path[0]
    for node in path[1:]:
        if sn == 0:
            raise ProofError(
                f"consistency proof from size {old_size} to size {new_size} has too many hashes ({len(proof)})"
            )
        if fn & 1 or fn == sn:
            old_computed = node_hash(node, old_computed)
            new_computed = node_hash(node, new_computed)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            new_computed = node_hash(new_computed, node)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"consistency proof from size {old_size} to size {new_size} has too few hashes ({len(proof)})")
    return old_computed, new_computed


def _require_hashes(proof: Sequence[bytes], what: str) -> None:
    for position, node in enumerate(proof):
        _require_hash(node, f"{what} hash #{position}")


def _require_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ProofError(f"{what} must be {HASH_SIZE} bytes, got {value!r:.80}")
