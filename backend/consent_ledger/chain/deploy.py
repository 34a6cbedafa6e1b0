"""Deploy ConsentLedger once per chain and remember where: `deployments/<chainId>-<genesis>.json`.

A chain is named by its id and its genesis block's hash: a fresh devnet, or another node that uses
the same chain id (a Hardhat node is 31337 too), has another genesis, so it gets its own record (and,
downstream, its own database) even when the same deployer key puts the contract at the same address.
Re-running reuses the recorded contract when it is still there (same chain history, same code);
on another chain, a reset devnet, or changed sources, it deploys anew, leaving other chains' records
as they are. A record from before genesis hashes were kept (`<chainId>.json`) is adopted when its
contract is still on this chain.
"""

from __future__ import annotations

import dataclasses
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
    genesis_hash: str = ""  # block 0's hash; "" only in records written before it was kept

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @property
    def label(self) -> str:
        """`<chainId>-<first 8 hex digits of the genesis hash>`: names the chain in file names."""
        return chain_label(self.chain_id, self.genesis_hash)


def chain_label(chain_id: int, genesis_hash: str) -> str:
    return f"{chain_id}-{genesis_hash.removeprefix('0x')[:8].lower()}"


def genesis_hash(rpc: RpcClient) -> str:
    """The hash of the chain's block 0: with the chain id, what tells one chain from another."""
    return str(rpc.get_block(0)["hash"])


def deployment_file(deployments_dir: Path, chain_id: int, genesis: str) -> Path:
    return deployments_dir / f"{chain_label(chain_id, genesis)}.json"


def _legacy_file(deployments_dir: Path, chain_id: int) -> Path:
    return deployments_dir / f"{chain_id}.json"


def _read(path: Path) -> Deployment:
    try:
        return Deployment(**json.loads(path.read_text()))
    except (TypeError, ValueError) as exc:
        raise DeploymentError(f"{path} is not a deployment record: {exc}") from exc


def load_deployment(deployments_dir: Path, chain_id: int, genesis: str) -> Deployment:
    """The record for the chain with this id and genesis hash. A legacy record (no genesis hash) comes
    back with genesis_hash "": only `still_deployed` can tell whether it is this chain's."""
    path = deployment_file(deployments_dir, chain_id, genesis)
    if path.is_file():
        deployment = _read(path)
        if deployment.chain_id != chain_id or deployment.genesis_hash.lower() != genesis.lower():
            raise DeploymentError(
                f"{path} is for chain {deployment.chain_id} with genesis {deployment.genesis_hash}, not for this "
                f"chain {chain_id} with genesis {genesis}: move it away and run `consent-ledger deploy`"
            )
        return deployment
    legacy = _legacy_file(deployments_dir, chain_id)
    if legacy.is_file():
        deployment = _read(legacy)
        if not deployment.genesis_hash and deployment.chain_id == chain_id:
            return deployment
    others = sorted(p.name for p in deployments_dir.glob(f"{chain_id}-*.json"))
    hint = f" (the records there, {', '.join(others)}, are for other chains with id {chain_id})" if others else ""
    raise DeploymentError(
        f"no deployment on chain {chain_id} with genesis {genesis} ({path} missing{hint}): run `consent-ledger deploy`"
    )


def still_deployed(rpc: RpcClient, deployment: Deployment) -> bool:
    """The recorded contract is on this chain: same genesis, code at the address, deploy block unchanged."""
    if rpc.chain_id() != deployment.chain_id:
        return False
    if deployment.genesis_hash and genesis_hash(rpc).lower() != deployment.genesis_hash.lower():
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
    path = deployment_file(deployments_dir, deployment.chain_id, deployment.genesis_hash)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(deployment.to_json(), indent=2) + "\n")
    tmp.replace(path)


def ensure_deployed(
    rpc: RpcClient, sender: TxSender, artifact: Artifact, deployments_dir: Path
) -> tuple[Deployment, bool]:
    """Return (deployment, reused). Writes the record of this chain only."""
    chain_id = rpc.chain_id()
    genesis = genesis_hash(rpc)
    try:
        existing = load_deployment(deployments_dir, chain_id, genesis)
    except DeploymentError:
        existing = None
    if existing and existing.source_hash == artifact.source_hash and still_deployed(rpc, existing):
        if not existing.genesis_hash:  # a legacy record, live on this chain: adopt it under its full name
            existing = dataclasses.replace(existing, genesis_hash=genesis)
            _write(deployments_dir, existing)
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
        genesis_hash=genesis,
    )
    _write(deployments_dir, deployment)
    return deployment, False
