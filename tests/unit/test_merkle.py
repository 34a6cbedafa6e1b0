"""The RFC 9162 Merkle tree against an independent reference written from the RFC's recursive definitions."""

from __future__ import annotations

import hashlib
import random

import pytest

from consent_ledger.audit.errors import AuditError, ProofError
from consent_ledger.audit.merkle import (
    HASH_SIZE,
    Frontier,
    MerkleTree,
    consistency_ranges,
    empty_root,
    fold,
    inclusion_ranges,
    leaf_hash,
    node_hash,
    range_nodes,
    root,
)

# --- Reference: RFC 9162 2.1.1 (MTH), 2.1.3.1 (PATH), 2.1.4.1 (PROOF/SUBPROOF), plain recursion over leaf data ---


def _ref_split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(data: list[bytes]) -> bytes:
    n = len(data)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = _ref_split(n)
    return hashlib.sha256(b"\x01" + ref_mth(data[:k]) + ref_mth(data[k:])).digest()


def ref_path(m: int, data: list[bytes]) -> list[bytes]:
    n = len(data)
    if n == 1:
        return []
    k = _ref_split(n)
    if m < k:
        return [*ref_path(m, data[:k]), ref_mth(data[k:])]
    return [*ref_path(m - k, data[k:]), ref_mth(data[:k])]


def ref_subproof(m: int, data: list[bytes], whole: bool) -> list[bytes]:
    n = len(data)
    if m == n:
        return [] if whole else [ref_mth(data)]
    k = _ref_split(n)
    if m <= k:
        return [*ref_subproof(m, data[:k], whole), ref_mth(data[k:])]
    return [*ref_subproof(m - k, data[k:], False), ref_mth(data[:k])]


def ref_proof(m: int, data: list[bytes]) -> list[bytes]:
    return ref_subproof(m, data, True)


# --- Fixtures ---

SIZES = [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 100, 257, 300]
DATA = [f"consent event #{i}".encode() for i in range(max(SIZES))]
SMALL = 20


def build(data: list[bytes]) -> MerkleTree:
    tree = MerkleTree()
    for expected_index, item in enumerate(data):
        assert tree.append(leaf_hash(item)) == expected_index
    return tree


@pytest.fixture(scope="module")
def big() -> MerkleTree:
    return build(DATA)


def sample_indexes(size: int, rng: random.Random, count: int = 20) -> list[int]:
    return sorted({0, size - 1, *rng.sample(range(size), min(count, size))})


# --- Hashing ---


def test_empty_root_is_sha256_of_nothing() -> None:
    assert empty_root() == hashlib.sha256(b"").digest()
    assert empty_root().hex().startswith("e3b0c442")
    assert empty_root().hex().endswith("b855")
    assert root([]) == empty_root() == MerkleTree().root()


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert leaf_hash(b"").hex().startswith("6e340b9c")
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = leaf_hash(b"l"), leaf_hash(b"r")
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert node_hash(left, right) != node_hash(right, left)
    assert len(leaf_hash(b"x")) == len(node_hash(left, right)) == HASH_SIZE


def test_root_of_one_empty_leaf_is_its_leaf_hash() -> None:
    assert root([leaf_hash(b"")]) == leaf_hash(b"") == MerkleTree([leaf_hash(b"")]).root()


# --- Known answers: the RFC 6962 test tree of transparency-dev/merkle, proof/verify_test.go (leaves, roots,
# inclusionProofs with 1-based leaf numbers, consistencyProofs). Hex copied from that file. ---

VECTOR_LEAVES = [bytes.fromhex(h) for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657"]]
VECTOR_LEAVES.append(bytes.fromhex("606162636465666768696a6b6c6d6e6f"))
VECTOR_ROOTS = [  # roots of the first 1..8 leaves
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
H_96A2 = "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
H_5F08 = "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"
H_6B47 = "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
H_BC1A = "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"
H_CA85 = "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"
H_D37E = "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"
H_0EBC = "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"
H_B086 = "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"
H_6E34 = VECTOR_ROOTS[0]
H_FAC5 = VECTOR_ROOTS[1]
VECTOR_INCLUSION = [  # (0-based index, size, proof)
    (0, 8, [H_96A2, H_5F08, H_6B47]),
    (5, 8, [H_BC1A, H_CA85, H_D37E]),
    (2, 3, [H_FAC5]),
    (1, 5, [H_6E34, H_5F08, H_BC1A]),
]
VECTOR_CONSISTENCY = [
    (1, 8, [H_96A2, H_5F08, H_6B47]),
    (6, 8, [H_0EBC, H_CA85, H_D37E]),
    (2, 5, [H_5F08, H_BC1A]),
    (6, 7, [H_0EBC, H_B086, H_D37E]),
]


def test_vector_roots() -> None:
    tree = MerkleTree(leaf_hash(leaf) for leaf in VECTOR_LEAVES)
    for size, expected in enumerate(VECTOR_ROOTS, start=1):
        assert tree.root(size).hex() == expected
        assert ref_mth(VECTOR_LEAVES[:size]).hex() == expected


@pytest.mark.parametrize(("index", "size", "proof"), VECTOR_INCLUSION)
def test_vector_inclusion_proofs(index: int, size: int, proof: list[str]) -> None:
    tree = MerkleTree(leaf_hash(leaf) for leaf in VECTOR_LEAVES)
    assert [h.hex() for h in tree.inclusion_proof(index, size)] == proof
    assert [h.hex() for h in ref_path(index, VECTOR_LEAVES[:size])] == proof


@pytest.mark.parametrize(("old", "new", "proof"), VECTOR_CONSISTENCY)
def test_vector_consistency_proofs(old: int, new: int, proof: list[str]) -> None:
    tree = MerkleTree(leaf_hash(leaf) for leaf in VECTOR_LEAVES)
    assert [h.hex() for h in tree.consistency_proof(old, new)] == proof
    assert [h.hex() for h in ref_proof(old, VECTOR_LEAVES[:new])] == proof


# --- Against the reference ---


def test_root_at_every_size_up_to_300(big: MerkleTree) -> None:
    for size in range(len(DATA) + 1):
        assert big.root(size) == ref_mth(DATA[:size]), size


@pytest.mark.parametrize("size", SIZES)
def test_tree_of_each_size(size: int) -> None:
    data = DATA[:size]
    hashes = [leaf_hash(item) for item in data]
    expected = ref_mth(data)
    incremental = build(data)
    assert incremental.size == size
    assert incremental.root() == expected
    assert MerkleTree(hashes).root() == expected
    assert root(hashes) == expected
    assert [incremental.leaf(i) for i in range(size)] == hashes


def test_inclusion_all_pairs_small(big: MerkleTree) -> None:
    small = build(DATA[:SMALL])
    for size in range(1, SMALL + 1):
        for index in range(size):
            expected = ref_path(index, DATA[:size])
            assert small.inclusion_proof(index, size) == expected, (index, size)
            assert big.inclusion_proof(index, size) == expected, (index, size)


@pytest.mark.parametrize("size", [s for s in SIZES if s > SMALL])
def test_inclusion_sample_large(size: int, big: MerkleTree) -> None:
    rng = random.Random(size)
    exact = build(DATA[:size])
    for index in sample_indexes(size, rng):
        expected = ref_path(index, DATA[:size])
        assert exact.inclusion_proof(index, size) == expected, (index, size)
        assert big.inclusion_proof(index, size) == expected, (index, size)


def test_consistency_all_pairs_small(big: MerkleTree) -> None:
    small = build(DATA[:SMALL])
    for new in range(1, SMALL + 1):
        assert small.consistency_proof(new, new) == []
        for old in range(1, new + 1):
            expected = ref_proof(old, DATA[:new])
            assert small.consistency_proof(old, new) == expected, (old, new)
            assert big.consistency_proof(old, new) == expected, (old, new)


def test_consistency_sample_large(big: MerkleTree) -> None:
    rng = random.Random(9162)
    pairs = {(1, 300), (2, 300), (128, 256), (256, 257), (255, 257), (100, 257), (257, 300), (299, 300), (64, 100)}
    while len(pairs) < 40:
        old, new = sorted(rng.sample(range(1, len(DATA) + 1), 2))
        pairs.add((old, new))
    for old, new in sorted(pairs):
        assert big.consistency_proof(old, new) == ref_proof(old, DATA[:new]), (old, new)


def test_proof_lengths_are_logarithmic(big: MerkleTree) -> None:
    assert len(big.inclusion_proof(0, 256)) == 8
    assert len(big.inclusion_proof(256, 257)) == 1
    assert len(big.inclusion_proof(299, 300)) <= 9
    assert len(big.consistency_proof(1, 300)) <= 2 * 9


def test_growing_keeps_past_heads(big: MerkleTree) -> None:
    tree = MerkleTree()
    heads = []
    for item in DATA[:70]:
        tree.append(leaf_hash(item))
        heads.append(tree.root())
    assert [tree.root(size) for size in range(1, 71)] == heads == [big.root(size) for size in range(1, 71)]


# --- Argument checks ---


@pytest.mark.parametrize(("index", "size"), [(-1, 5), (5, 5), (0, 0), (0, 21), (3, -1)])
def test_inclusion_proof_out_of_range(index: int, size: int) -> None:
    tree = build(DATA[:SMALL])
    with pytest.raises(ProofError) as info:
        tree.inclusion_proof(index, size)
    assert info.type is ProofError


@pytest.mark.parametrize(("old", "new"), [(0, 5), (-1, 5), (6, 5), (5, 21), (21, 21)])
def test_consistency_proof_out_of_range(old: int, new: int) -> None:
    tree = build(DATA[:SMALL])
    with pytest.raises(ProofError) as info:
        tree.consistency_proof(old, new)
    assert info.type is ProofError


@pytest.mark.parametrize("size", [-1, SMALL + 1])
def test_root_size_out_of_range(size: int) -> None:
    with pytest.raises(ProofError):
        build(DATA[:SMALL]).root(size)


@pytest.mark.parametrize("index", [-1, SMALL])
def test_leaf_index_out_of_range(index: int) -> None:
    with pytest.raises(ProofError):
        build(DATA[:SMALL]).leaf(index)


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31, b"\x00" * 33])
def test_leaf_hashes_must_be_32_bytes(bad: bytes) -> None:
    tree = build(DATA[:3])
    with pytest.raises(AuditError) as info:
        tree.append(bad)
    assert info.type is AuditError
    with pytest.raises(AuditError):
        tree.extend([leaf_hash(b"ok"), bad])
    assert tree.size == 3  # extend checks everything before adding anything
    with pytest.raises(AuditError):
        root([bad])


# --- The frontier (what a store keeps to append) and the node planner (what it looks up for a proof) ---


def test_frontier_roots_match_the_reference_at_every_size() -> None:
    frontier = Frontier()
    assert frontier.root() == empty_root()
    for size, item in enumerate(DATA, start=1):
        frontier.append(leaf_hash(item))
        assert frontier.size == size
        assert frontier.root() == ref_mth(DATA[:size]), size
        assert Frontier.decode(size, frontier.encode()).root() == frontier.root()


def test_frontier_reports_every_complete_node_once(big: MerkleTree) -> None:
    frontier = Frontier()
    closed: dict[tuple[int, int], bytes] = {}
    for item in DATA:
        for node, digest in frontier.append(leaf_hash(item)):
            assert node not in closed
            closed[node] = digest
    expected = {
        (level, position): big.node((level, position))
        for level in range(1, len(DATA).bit_length())
        for position in range(len(DATA) >> level)
    }
    assert closed == expected


@pytest.mark.parametrize(("size", "count"), [(-1, 0), (3, 1), (4, 2), (0, 1)])
def test_frontier_refuses_a_wrong_number_of_hashes(size: int, count: int) -> None:
    with pytest.raises(AuditError):
        Frontier(size, [leaf_hash(b"x")] * count)


def test_range_nodes_fold_to_the_reference_hash_of_every_proof_range() -> None:
    tree = build(DATA[:SMALL])
    for size in range(1, SMALL + 1):
        for index in range(size):
            for start, end in inclusion_ranges(index, size):
                assert fold([tree.node(n) for n in range_nodes(start, end)]) == ref_mth(DATA[start:end])
        for old in range(1, size + 1):
            for start, end in consistency_ranges(old, size):
                assert fold([tree.node(n) for n in range_nodes(start, end)]) == ref_mth(DATA[start:end])


@pytest.mark.parametrize(("start", "end"), [(0, 0), (3, 2), (1, 3), (2, 7)])
def test_range_nodes_refuses_ranges_no_tree_hashes(start: int, end: int) -> None:
    with pytest.raises(ProofError):
        range_nodes(start, end)
