"""Deploy once per chain, remember where, reuse while it is still there, redeploy when it is not."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from consent_ledger.chain.compiler import Artifact
from consent_ledger.chain.deploy import (
    CONTRACT_NAME,
    chain_label,
    deployment_file,
    ensure_deployed,
    genesis_hash,
    load_deployment,
    still_deployed,
)
from consent_ledger.chain.devnet import Devnet, free_port
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.chain.tx import TxSender
from consent_ledger.config import ANVIL_DEFAULT_KEY
from consent_ledger.errors import DeploymentError

pytestmark = pytest.mark.chain

StartNode = Callable[..., tuple[Devnet, RpcClient]]


@pytest.fixture
def start_node(tmp_path: Path, project_root: Path) -> Iterator[StartNode]:
    """Start throwaway anvils (no persisted state); all are stopped after the test."""
    started: list[tuple[Devnet, RpcClient]] = []

    def start(chain_id: int = 31337) -> tuple[Devnet, RpcClient]:
        if started:  # anvil's genesis block carries its start time in seconds: start each node in its own second
            time.sleep(1.05 - time.time() % 1)
        devnet = Devnet(project_root, tmp_path / f"anvil-{len(started)}", free_port(), persist=False, chain_id=chain_id)
        devnet.start()
        rpc = RpcClient(devnet.url)
        started.append((devnet, rpc))
        return devnet, rpc

    yield start
    for devnet, rpc in started:
        rpc.close()
        devnet.stop()


@pytest.fixture
def ledger_artifact(artifacts: dict[str, Artifact]) -> Artifact:
    return artifacts[CONTRACT_NAME]


def test_first_deploy_writes_the_record(start_node: StartNode, ledger_artifact: Artifact, tmp_path: Path) -> None:
    _, rpc = start_node()
    deployments = tmp_path / "deployments"
    sender = TxSender(rpc, ANVIL_DEFAULT_KEY)

    deployment, reused = ensure_deployed(rpc, sender, ledger_artifact, deployments)

    assert reused is False
    genesis = genesis_hash(rpc)
    path = deployment_file(deployments, 31337, genesis)
    assert path == deployments / f"31337-{genesis[2:10]}.json"
    record = json.loads(path.read_text())
    assert record["chain_id"] == 31337
    assert record["genesis_hash"] == genesis == rpc.get_block(0)["hash"]
    assert record["address"] == deployment.address
    assert record["deploy_block"] == deployment.deploy_block >= 1
    assert record["tx_hash"] == deployment.tx_hash
    assert record["compiler"] == ledger_artifact.compiler
    assert record["abi_hash"] == ledger_artifact.abi_hash
    assert record["source_hash"] == ledger_artifact.source_hash
    assert record["deployer"] == sender.address
    assert record["contract"] == CONTRACT_NAME
    assert load_deployment(deployments, 31337, genesis) == deployment

    # The record matches the chain: the receipt created this contract in that block.
    receipt = rpc.request("eth_getTransactionReceipt", [deployment.tx_hash])
    assert receipt["contractAddress"].lower() == deployment.address.lower()
    assert int(receipt["blockNumber"], 16) == deployment.deploy_block
    assert receipt["blockHash"] == deployment.deploy_block_hash
    assert rpc.get_code(deployment.address) not in ("0x", "")
    assert still_deployed(rpc, deployment) is True
    assert not list(deployments.glob("*.tmp"))


def test_second_run_reuses(start_node: StartNode, ledger_artifact: Artifact, tmp_path: Path) -> None:
    _, rpc = start_node()
    deployments = tmp_path / "deployments"
    sender = TxSender(rpc, ANVIL_DEFAULT_KEY)
    first, _ = ensure_deployed(rpc, sender, ledger_artifact, deployments)
    record = deployment_file(deployments, 31337, first.genesis_hash).read_text()
    block = rpc.block_number()

    again, reused = ensure_deployed(rpc, TxSender(rpc, ANVIL_DEFAULT_KEY), ledger_artifact, deployments)

    assert reused is True
    assert again == first
    assert rpc.block_number() == block  # no transaction sent
    assert deployment_file(deployments, 31337, first.genesis_hash).read_text() == record


def test_changed_sources_deploy_anew(start_node: StartNode, ledger_artifact: Artifact, tmp_path: Path) -> None:
    _, rpc = start_node()
    deployments = tmp_path / "deployments"
    sender = TxSender(rpc, ANVIL_DEFAULT_KEY)
    first, _ = ensure_deployed(rpc, sender, ledger_artifact, deployments)

    rebuilt = dataclasses.replace(ledger_artifact, source_hash="0x" + "11" * 32)
    second, reused = ensure_deployed(rpc, sender, rebuilt, deployments)

    assert reused is False
    assert second.address != first.address
    assert load_deployment(deployments, 31337, first.genesis_hash).source_hash == rebuilt.source_hash


def test_each_chain_gets_its_own_record(start_node: StartNode, ledger_artifact: Artifact, tmp_path: Path) -> None:
    deployments = tmp_path / "deployments"
    _, rpc_a = start_node(31337)
    _, rpc_b = start_node(31338)
    on_a, _ = ensure_deployed(rpc_a, TxSender(rpc_a, ANVIL_DEFAULT_KEY), ledger_artifact, deployments)
    record_a = deployment_file(deployments, 31337, on_a.genesis_hash).read_text()

    on_b, reused = ensure_deployed(rpc_b, TxSender(rpc_b, ANVIL_DEFAULT_KEY), ledger_artifact, deployments)

    assert reused is False
    assert on_b.chain_id == 31338
    assert on_b.tx_hash != on_a.tx_hash
    assert sorted(p.name for p in deployments.glob("*.json")) == [f"{on_a.label}.json", f"{on_b.label}.json"]
    assert deployment_file(deployments, 31337, on_a.genesis_hash).read_text() == record_a
    assert load_deployment(deployments, 31338, on_b.genesis_hash) == on_b
    # Neither record claims to be live on the other chain.
    assert still_deployed(rpc_a, on_b) is False
    assert still_deployed(rpc_b, on_a) is False
    # And each is reused on its own chain.
    assert ensure_deployed(rpc_a, TxSender(rpc_a, ANVIL_DEFAULT_KEY), ledger_artifact, deployments)[1] is True
    assert ensure_deployed(rpc_b, TxSender(rpc_b, ANVIL_DEFAULT_KEY), ledger_artifact, deployments)[1] is True


def test_reset_chain_deploys_anew(start_node: StartNode, ledger_artifact: Artifact, tmp_path: Path) -> None:
    deployments = tmp_path / "deployments"
    old_node, old_rpc = start_node()
    # Some history first, so the old deploy block does not exist on the fresh chain.
    old_rpc.request("anvil_mine", ["0x3"])
    old, _ = ensure_deployed(old_rpc, TxSender(old_rpc, ANVIL_DEFAULT_KEY), ledger_artifact, deployments)
    old_record = deployment_file(deployments, 31337, old.genesis_hash).read_bytes()
    old_node.stop()

    _, rpc = start_node()  # same chain id, no state
    assert rpc.chain_id() == old.chain_id
    assert still_deployed(rpc, old) is False

    fresh, reused = ensure_deployed(rpc, TxSender(rpc, ANVIL_DEFAULT_KEY), ledger_artifact, deployments)

    assert reused is False
    assert fresh.deploy_block_hash != old.deploy_block_hash
    assert fresh.genesis_hash != old.genesis_hash
    assert still_deployed(rpc, fresh) is True
    assert load_deployment(deployments, 31337, fresh.genesis_hash) == fresh
    # The old chain's record is left as it was.
    assert deployment_file(deployments, 31337, old.genesis_hash).read_bytes() == old_record


def test_same_address_on_a_fresh_chain_is_another_deployment(
    start_node: StartNode, ledger_artifact: Artifact, tmp_path: Path
) -> None:
    """A fresh devnet (or another node on 31337) where the same key deploys first: same address, same deploy
    block number. Only the genesis tells the chains apart, and it does."""
    deployments = tmp_path / "deployments"
    old_node, old_rpc = start_node()
    old, _ = ensure_deployed(old_rpc, TxSender(old_rpc, ANVIL_DEFAULT_KEY), ledger_artifact, deployments)
    old_record = deployment_file(deployments, 31337, old.genesis_hash).read_bytes()
    old_node.stop()

    _, rpc = start_node()
    with pytest.raises(DeploymentError, match="no deployment on chain 31337 with genesis"):
        load_deployment(deployments, 31337, genesis_hash(rpc))
    fresh, reused = ensure_deployed(rpc, TxSender(rpc, ANVIL_DEFAULT_KEY), ledger_artifact, deployments)
    assert reused is False
    assert fresh.address == old.address
    assert fresh.label != old.label
    assert deployment_file(deployments, 31337, old.genesis_hash).read_bytes() == old_record
    assert sorted(p.name for p in deployments.glob("*.json")) == sorted([f"{old.label}.json", f"{fresh.label}.json"])


def test_a_legacy_record_live_on_this_chain_is_adopted(
    start_node: StartNode, ledger_artifact: Artifact, tmp_path: Path
) -> None:
    """`<chainId>.json`, written before genesis hashes were kept: reused (and renamed) where its contract lives."""
    deployments = tmp_path / "deployments"
    _, rpc = start_node()
    deployment, _ = ensure_deployed(rpc, TxSender(rpc, ANVIL_DEFAULT_KEY), ledger_artifact, deployments)
    legacy = {k: v for k, v in deployment.to_json().items() if k != "genesis_hash"}
    deployment_file(deployments, 31337, deployment.genesis_hash).unlink()
    (deployments / "31337.json").write_text(json.dumps(legacy))
    assert load_deployment(deployments, 31337, deployment.genesis_hash).genesis_hash == ""

    again, reused = ensure_deployed(rpc, TxSender(rpc, ANVIL_DEFAULT_KEY), ledger_artifact, deployments)
    assert reused is True
    assert again == deployment
    assert load_deployment(deployments, 31337, deployment.genesis_hash) == deployment


def test_code_at_the_address_is_not_enough(start_node: StartNode, ledger_artifact: Artifact, tmp_path: Path) -> None:
    """Same address, other history (a reset devnet redeployed by the same key): the block hash tells."""
    deployments = tmp_path / "deployments"
    _, rpc = start_node()
    deployment, _ = ensure_deployed(rpc, TxSender(rpc, ANVIL_DEFAULT_KEY), ledger_artifact, deployments)
    forged = dataclasses.replace(deployment, deploy_block_hash="0x" + "00" * 32)
    assert still_deployed(rpc, forged) is False
    far = dataclasses.replace(deployment, deploy_block=deployment.deploy_block + 1000)
    assert still_deployed(rpc, far) is False


def test_missing_or_broken_record(tmp_path: Path) -> None:
    genesis = "0x" + "ab" * 32
    with pytest.raises(DeploymentError, match="consent-ledger deploy"):
        load_deployment(tmp_path, 31337, genesis)
    path = tmp_path / f"{chain_label(31337, genesis)}.json"
    path.write_text(json.dumps({"chain_id": 31337}))
    with pytest.raises(DeploymentError, match="not a deployment record"):
        load_deployment(tmp_path, 31337, genesis)
    path.write_text("{not json")
    with pytest.raises(DeploymentError, match="not a deployment record"):
        load_deployment(tmp_path, 31337, genesis)
