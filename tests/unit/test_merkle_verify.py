"""Proof verification: every honest proof verifies, every kind of tampering raises the exact error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from consent_ledger.audit.errors import AuditError, ProofError, RootMismatchError
from consent_ledger.audit.merkle import MerkleTree, empty_root, leaf_hash
from consent_ledger.audit.verify import root_from_inclusion, verify_consistency, verify_inclusion

N = 40
DATA = [f"grant {i} by customer {i % 7}".encode() for i in range(N)]


def make_tree(data: list[bytes]) -> MerkleTree:
    return MerkleTree(leaf_hash(item) for item in data)


TREE = make_tree(DATA)


@contextmanager
def raises_exactly(cls: type[AuditError]) -> Iterator[None]:
    with pytest.raises(AuditError) as info:
        yield
    assert info.type is cls, f"expected {cls.__name__}, got {info.type.__name__}: {info.value}"


def flip(node: bytes, bit: int = 0) -> bytes:
    return bytes([node[0] ^ (1 << bit)]) + node[1:]


def check_inclusion(index: int, size: int, proof: list[bytes], leaf: bytes | None = None) -> Callable[[], None]:
    leaf = TREE.leaf(index) if leaf is None else leaf
    return lambda: verify_inclusion(leaf, index, size, proof, TREE.root(size))


# --- Honest proofs ---


def test_every_inclusion_proof_verifies() -> None:
    for size in range(1, N + 1):
        head = TREE.root(size)
        for index in range(size):
            proof = TREE.inclusion_proof(index, size)
            assert root_from_inclusion(TREE.leaf(index), index, size, proof) == head
            verify_inclusion(TREE.leaf(index), index, size, proof, head)


def test_every_consistency_proof_verifies() -> None:
    for new in range(N + 1):
        verify_consistency(0, new, empty_root(), TREE.root(new), [])
        for old in range(1, new + 1):
            verify_consistency(old, new, TREE.root(old), TREE.root(new), TREE.consistency_proof(old, new))


# --- Tampered inclusion proofs ---


@pytest.mark.parametrize(("index", "size"), [(13, 37), (0, 40), (36, 37), (32, 33)])
def test_modified_proof_node(index: int, size: int) -> None:
    proof = TREE.inclusion_proof(index, size)
    for position in range(len(proof)):
        tampered = list(proof)
        tampered[position] = flip(tampered[position], bit=3)
        with raises_exactly(RootMismatchError):
            check_inclusion(index, size, tampered)()


def test_proof_for_another_index() -> None:
    proof = TREE.inclusion_proof(9, 37)
    assert len(proof) == len(TREE.inclusion_proof(13, 37))
    with raises_exactly(RootMismatchError):
        verify_inclusion(TREE.leaf(13), 13, 37, proof, TREE.root(37))
    with raises_exactly(RootMismatchError):  # the right leaf, but claimed at another index
        verify_inclusion(TREE.leaf(9), 13, 37, proof, TREE.root(37))


def test_proof_for_another_size_same_length() -> None:
    proof = TREE.inclusion_proof(5, 37)
    assert len(proof) == len(TREE.inclusion_proof(5, 38))
    with raises_exactly(RootMismatchError):
        check_inclusion(5, 38, proof)()


def test_proof_for_another_size_other_length() -> None:
    proof = TREE.inclusion_proof(5, 37)
    assert len(proof) != len(TREE.inclusion_proof(5, 16))
    with raises_exactly(ProofError):
        check_inclusion(5, 16, proof)()


def test_truncated_proof() -> None:
    proof = TREE.inclusion_proof(13, 37)
    for cut in range(len(proof)):
        with raises_exactly(ProofError):
            check_inclusion(13, 37, proof[:cut])()


def test_extended_proof() -> None:
    proof = TREE.inclusion_proof(13, 37)
    for extra in (TREE.root(37), leaf_hash(b"extra"), proof[0]):
        with raises_exactly(ProofError):
            check_inclusion(13, 37, [*proof, extra])()
        with raises_exactly(ProofError):
            check_inclusion(13, 37, [extra, *proof])()


def test_right_proof_another_leaf() -> None:
    proof = TREE.inclusion_proof(13, 37)
    for leaf in (leaf_hash(b"forged grant"), TREE.leaf(14), leaf_hash(DATA[13] + b" ")):
        with raises_exactly(RootMismatchError):
            check_inclusion(13, 37, proof, leaf=leaf)()


@pytest.mark.parametrize(("first", "second"), [(12, 13), (3, 29), (0, 36)])
def test_swapped_leaves(first: int, second: int) -> None:
    swapped_data = list(DATA[:37])
    swapped_data[first], swapped_data[second] = swapped_data[second], swapped_data[first]
    swapped = make_tree(swapped_data)
    for index in (first, second):
        proof = swapped.inclusion_proof(index, 37)
        with raises_exactly(RootMismatchError):
            verify_inclusion(swapped.leaf(index), index, 37, proof, TREE.root(37))


def test_wrong_root() -> None:
    proof = TREE.inclusion_proof(13, 37)
    for head in (TREE.root(36), empty_root(), b""):
        with raises_exactly(RootMismatchError):
            verify_inclusion(TREE.leaf(13), 13, 37, proof, head)


@pytest.mark.parametrize(("index", "size"), [(-1, 5), (5, 5), (0, 0), (6, 5)])
def test_inclusion_index_out_of_range(index: int, size: int) -> None:
    with raises_exactly(ProofError):
        root_from_inclusion(TREE.leaf(0), index, size, [])


def test_malformed_hashes_in_inclusion() -> None:
    proof = TREE.inclusion_proof(13, 37)
    with raises_exactly(ProofError):
        check_inclusion(13, 37, [*proof[:-1], proof[-1][:31]])()
    with raises_exactly(ProofError):
        check_inclusion(13, 37, proof, leaf=DATA[13])()  # the entry itself, not its leaf hash


def test_single_leaf_tree() -> None:
    one = make_tree(DATA[:1])
    verify_inclusion(one.leaf(0), 0, 1, [], one.root())
    with raises_exactly(ProofError):
        verify_inclusion(one.leaf(0), 0, 1, [one.leaf(0)], one.root())


def test_root_mismatch_carries_both_roots() -> None:
    proof = TREE.inclusion_proof(13, 37)
    forged = leaf_hash(b"forged grant")
    with pytest.raises(RootMismatchError) as info:
        verify_inclusion(forged, 13, 37, proof, TREE.root(37))
    assert info.type is RootMismatchError
    error = info.value
    assert error.expected == TREE.root(37)
    assert error.computed == root_from_inclusion(forged, 13, 37, proof)
    assert error.expected.hex() in str(error)
    assert error.computed.hex() in str(error)


# --- Tampered consistency proofs ---


@pytest.mark.parametrize(("old", "new"), [(13, 37), (16, 37), (1, 40), (31, 32), (36, 37)])
def test_consistency_modified_node(old: int, new: int) -> None:
    proof = TREE.consistency_proof(old, new)
    for position in range(len(proof)):
        tampered = list(proof)
        tampered[position] = flip(tampered[position], bit=4)
        with raises_exactly(RootMismatchError):
            verify_consistency(old, new, TREE.root(old), TREE.root(new), tampered)


@pytest.mark.parametrize(("old", "new"), [(13, 37), (16, 37), (1, 40)])
def test_consistency_between_two_logs(old: int, new: int) -> None:
    other_data = DATA[:old] + [b"rewritten " + item for item in DATA[old:]]
    other = make_tree(other_data)
    assert other.root(old) == TREE.root(old)
    assert other.root(new) != TREE.root(new)
    with raises_exactly(RootMismatchError):  # our proof, their new head
        verify_consistency(old, new, TREE.root(old), other.root(new), TREE.consistency_proof(old, new))
    with raises_exactly(RootMismatchError):  # their proof, our new head
        verify_consistency(old, new, TREE.root(old), TREE.root(new), other.consistency_proof(old, new))


def test_consistency_history_rewritten_before_old_size() -> None:
    other = make_tree([b"rewritten", *DATA[1:]])
    with raises_exactly(RootMismatchError):
        verify_consistency(13, 37, TREE.root(13), other.root(37), other.consistency_proof(13, 37))


def test_consistency_swapped_roots() -> None:
    with raises_exactly(RootMismatchError):
        verify_consistency(13, 37, TREE.root(37), TREE.root(13), TREE.consistency_proof(13, 37))


def test_consistency_truncated_and_extended() -> None:
    proof = TREE.consistency_proof(13, 37)
    for cut in range(len(proof)):
        with raises_exactly(ProofError):
            verify_consistency(13, 37, TREE.root(13), TREE.root(37), proof[:cut])
    with raises_exactly(ProofError):
        verify_consistency(13, 37, TREE.root(13), TREE.root(37), [*proof, proof[0]])
    with raises_exactly(ProofError):
        verify_consistency(13, 37, TREE.root(13), TREE.root(37), [proof[0], *proof])


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        (12, 37, ProofError),
        (14, 37, ProofError),
        (13, 16, ProofError),
        (13, 38, RootMismatchError),
        (13, 36, RootMismatchError),
    ],
)
def test_consistency_proof_for_other_sizes(old: int, new: int, error: type[AuditError]) -> None:
    proof = TREE.consistency_proof(13, 37)
    with raises_exactly(error):
        verify_consistency(old, new, TREE.root(old), TREE.root(new), proof)


def test_old_size_larger_than_new() -> None:
    with raises_exactly(ProofError):
        verify_consistency(37, 13, TREE.root(37), TREE.root(13), TREE.consistency_proof(13, 37))


def test_negative_sizes() -> None:
    with raises_exactly(ProofError):
        verify_consistency(-1, 13, empty_root(), TREE.root(13), [])


def test_equal_sizes() -> None:
    verify_consistency(13, 13, TREE.root(13), TREE.root(13), [])
    with raises_exactly(RootMismatchError):
        verify_consistency(13, 13, TREE.root(13), TREE.root(12), [])
    with raises_exactly(ProofError):
        verify_consistency(13, 13, TREE.root(13), TREE.root(13), [TREE.root(13)])


def test_from_the_empty_tree() -> None:
    verify_consistency(0, 0, empty_root(), empty_root(), [])
    verify_consistency(0, 37, empty_root(), TREE.root(37), [])
    with raises_exactly(ProofError):
        verify_consistency(0, 37, empty_root(), TREE.root(37), [TREE.root(37)])
    with raises_exactly(RootMismatchError):  # only one root belongs to the empty tree
        verify_consistency(0, 37, TREE.root(1), TREE.root(37), [])


def test_consistency_needs_a_proof() -> None:
    with raises_exactly(ProofError):
        verify_consistency(13, 37, TREE.root(13), TREE.root(37), [])


def test_consistency_malformed_hash() -> None:
    proof = TREE.consistency_proof(13, 37)
    with raises_exactly(ProofError):
        verify_consistency(13, 37, TREE.root(13), TREE.root(37), [proof[0] + b"\x00", *proof[1:]])
