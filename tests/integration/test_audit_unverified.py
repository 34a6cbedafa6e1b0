"""What the verifier could not check is reported apart from violations, with its own exit code:
0 ok, 1 violations, 2 could not verify (a release whose block is gone, a block whose state the node
does not keep, a node that does not answer)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from consent_ledger.audit import export_file
from consent_ledger.audit.leaf import Leaf, fields_digest
from consent_ledger.audit.merkle import MerkleTree, leaf_hash
from consent_ledger.chain.compiler import Artifact
from consent_ledger.chain.deploy import Deployment, ensure_deployed
from consent_ledger.chain.devnet import Devnet, free_port
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.chain.tx import TxSender
from consent_ledger.cli.main import main
from consent_ledger.config import ANVIL_DEFAULT_KEY

pytestmark = pytest.mark.chain

CUSTOMER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
BRAND = "0x32189f6124216a3AB701d0eD3eb0A9cFa6d0846b"


@pytest.fixture
def pruned(tmp_path: Path, project_root: Path, artifacts: dict[str, Artifact]) -> Iterator[tuple[Ledger, Deployment]]:
    """A node that keeps no historical state (`--prune-history`), with the contract deployed."""
    node = Devnet(project_root, tmp_path / "pruned", free_port(), persist=False, extra_args=["--prune-history"])
    node.start()
    rpc = RpcClient(node.url)
    try:
        deployment, _ = ensure_deployed(
            rpc, TxSender(rpc, ANVIL_DEFAULT_KEY), artifacts["ConsentLedger"], tmp_path / "deployments"
        )
        yield Ledger(rpc, deployment.address, artifacts["ConsentLedger"].abi), deployment
    finally:
        rpc.close()
        node.stop()


def _leaf(block_number: int, block_hash: str) -> Leaf:
    return Leaf(str(uuid.uuid4()), CUSTOMER, BRAND, 1, 1, block_number, block_hash, 1_700_000_000, fields_digest(["e"]))


def _write_log(path: Path, ledger: Ledger, deployment: Deployment, leaves: list[Leaf], anchors: list[dict]) -> Path:
    exported = export_file.LogFile(
        deployment.chain_id,
        ledger.address,
        ledger.sender(ANVIL_DEFAULT_KEY).address,
        0,
        leaves=list(enumerate(leaf.encode() for leaf in leaves)),
        anchors=anchors,
    )
    export_file.write(path, exported)
    return path


def _verify(ledger: Ledger, path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = main(["audit", "verify", "--rpc", ledger.rpc.url, "--log", str(path), "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_gone_blocks_and_pruned_state_are_unverified_not_violations(
    pruned: tuple[Ledger, Deployment], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger, deployment = pruned
    rpc = ledger.rpc
    old = rpc.get_block("latest")
    rpc.request("anvil_mine", ["0x40"])
    head = rpc.block_number()
    # Leaf 0: decided at a block the node still has but whose state it pruned (no grant exists either, so a
    # node that could answer would report a violation). Leaf 1: decided at a block the chain does not have.
    leaves = [_leaf(int(old["number"], 16), old["hash"]), _leaf(head + 500, "0x" + "ab" * 32)]
    tree = MerkleTree(leaf_hash(leaf.encode()) for leaf in leaves)
    ledger.anchor(ledger.sender(ANVIL_DEFAULT_KEY), tree.root(), tree.size)
    code, report = _verify(ledger, _write_log(tmp_path / "log.jsonl", ledger, deployment, leaves, []), capsys)
    assert report["violations"] == []
    assert [(u["kind"], u["leaf"]) for u in report["unverified"]] == [("state_unavailable", 0), ("block_gone", 1)]
    assert report["summary"]["status"] == "unverified"
    assert report["summary"]["ok"] is False
    assert code == 2

    # Text output says the same, line by line.
    assert main(["audit", "verify", "--rpc", rpc.url, "--log", str(tmp_path / "log.jsonl")]) == 2
    out = capsys.readouterr().out
    assert "UNVERIFIED state_unavailable (leaf 0)" in out
    assert "UNVERIFIED block_gone (leaf 1)" in out
    assert "VIOLATION" not in out
    assert "OK" not in out


def test_an_anchor_whose_block_is_gone_is_listed(
    pruned: tuple[Ledger, Deployment], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger, deployment = pruned
    rpc = ledger.rpc
    block = rpc.get_block("latest")
    leaves = [_leaf(int(block["number"], 16), block["hash"])]
    tree = MerkleTree(leaf_hash(leaf.encode()) for leaf in leaves)
    gone = {"size": 1, "root": "0x" + tree.root().hex(), "tx_hash": "0x" + "cd" * 32, "block_number": 10_000}
    code, report = _verify(ledger, _write_log(tmp_path / "log.jsonl", ledger, deployment, leaves, [gone]), capsys)
    assert code == 1
    details = {v["kind"]: v["detail"] for v in report["violations"]}
    assert "block 10000, which the chain no longer has" in details["anchor_not_on_chain"]


def test_a_node_that_does_not_answer_is_could_not_verify(
    pruned: tuple[Ledger, Deployment], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger, deployment = pruned
    path = _write_log(tmp_path / "log.jsonl", ledger, deployment, [], [])
    assert main(["audit", "verify", "--rpc", f"http://127.0.0.1:{free_port()}", "--log", str(path)]) == 2
    assert "could not verify" in capsys.readouterr().err
