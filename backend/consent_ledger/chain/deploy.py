"""Deploy ConsentLedger once per chain and remember where: `deployments/<chainId>.json`.

Re-running reuses the recorded contract when it is still there (same chain history, same code);
on another chain, a reset devnet, or changed sources, it deploys anew.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from eth_utils.address import to_checksum_address

from consent_ledger.chain.compiler import Artifact
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.chain.tx import TxSender
from consent_ledger.errors import ChainError, DeploymentError

CONTRACT_NAME = "ConsentLedger"


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    address: str
    deploy_block: int
    deploy_block_hash: str
    tx_hash: str
    deployer: str
    compiler: str
    source_hash: str
    abi_hash: str
    deployed_at: int
    contract: str = CONTRACT_NAME

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def deployment_file(deployments_dir: Path, chain_id: int) -> Path:
    return deployments_dir / f"{chain_id}.json"


def load_deployment(deployments_dir: Path, chain_id: int) -> Deployment:
    path = deployment_file(deployments_dir, chain_id)
    try:
        return Deployment(**json.loads(path.read_text()))
    except FileNotFoundError as exc:
        raise DeploymentError(
            f"no deployment for chain {chain_id} ({path} missing): run `consent-ledger deploy`"
        ) from exc
    except (TypeError, ValueError) as exc:
        raise DeploymentError(f"{path} is not a deployment record: {exc}") from exc


def still_deployed(rpc: RpcClient, deployment: Deployment) -> bool:
    """The recorded contract is on this chain: code at the address and the deploy block unchanged."""
    if rpc.chain_id() != deployment.chain_id:
        return False
    if rpc.get_code(deployment.address) in ("0x", ""):
        return False
    try:
        block = rpc.get_block(deployment.deploy_block)
    except ChainError:
        return False
    return str(block.get("hash")) == deployment.deploy_block_hash


def _write(deployments_dir: Path, deployment: Deployment) -> None:
    deployments_dir.mkdir(parents=True, exist_ok=True)
    path = deployment_file(deployments_dir, deployment.chain_id)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(deployment.to_json(), indent=2) + "\n")
    tmp.replace(path)


def ensure_deployed(
    rpc: RpcClient, sender: TxSender, artifact: Artifact, deployments_dir: Path
) -> tuple[Deployment, bool]:
    """Return (deployment, reused)."""
    chain_id = rpc.chain_id()
    try:
        existing = load_deployment(deployments_dir, chain_id)
    except DeploymentError:
        existing = None
    if existing and existing.source_hash == artifact.source_hash and still_deployed(rpc, existing):
        return existing, True

    receipt = sender.transact(None, artifact.bytecode)
    if not receipt.contract_address:
        raise DeploymentError(f"deploy transaction {receipt.tx_hash} created no contract")
    deployment = Deployment(
        chain_id=chain_id,
        address=to_checksum_address(receipt.contract_address),
        deploy_block=receipt.block_number,
        deploy_block_hash=receipt.block_hash,
        tx_hash=receipt.tx_hash,
        deployer=sender.address,
        compiler=artifact.compiler,
        source_hash=artifact.source_hash,
        abi_hash=artifact.abi_hash,
        deployed_at=int(time.time()),
    )
    _write(deployments_dir, deployment)
    return deployment, False
