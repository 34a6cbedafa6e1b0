"""Build a `Ledger` for the configured chain from settings: RPC, deployment record and ABI."""

from __future__ import annotations

import dataclasses
from typing import Any

from consent_ledger.chain.artifacts import contract_artifact, in_checkout, packaged_artifact
from consent_ledger.chain.compiler import Artifact, load_artifact
from consent_ledger.chain.deploy import CONTRACT_NAME, Deployment, genesis_hash, load_deployment, still_deployed
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.rpc import CircuitBreaker, RpcClient
from consent_ledger.config import Settings
from consent_ledger.errors import DeploymentError, ToolchainError


def connect(settings: Settings) -> tuple[Ledger, Deployment]:
    """The deployed contract on `settings.rpc_url`; fails with advice when it is not there."""
    rpc = RpcClient(
        settings.rpc_url,
        settings.rpc_timeout,
        slow_timeout=settings.rpc_slow_timeout,
        breaker=CircuitBreaker(settings.rpc_cooldown),
    )
    chain_id = rpc.chain_id()
    genesis = genesis_hash(rpc)
    deployment = load_deployment(settings.deployments_path, chain_id, genesis)
    if not still_deployed(rpc, deployment):
        raise DeploymentError(
            f"the contract recorded for chain {deployment.label} ({deployment.address}) is not on the chain "
            f"at {rpc.display_url} (was the devnet reset?): run `consent-ledger deploy`"
        )
    if not deployment.genesis_hash:  # a legacy record whose contract is live here: this chain's
        deployment = dataclasses.replace(deployment, genesis_hash=genesis)
    return Ledger(rpc, deployment.address, _abi_for(settings, deployment)), deployment


def _abi_for(settings: Settings, deployment: Deployment) -> list[dict[str, Any]]:
    """The packaged (or built) artifact when it matches the deployed ABI: no compiler run at start. In a
    checkout whose build is stale, compile; installed, a mismatch means another version deployed it."""
    for artifact in (packaged_artifact(), _built(settings)):
        if artifact is not None and artifact.abi_hash == deployment.abi_hash:
            return artifact.abi
    if not in_checkout(settings.project_root):
        raise DeploymentError(
            f"the deployed contract's ABI ({deployment.abi_hash}) is not this installation's: install the "
            "version that deployed it, or deploy this one with `consent-ledger deploy`"
        )
    artifact = contract_artifact(settings.project_root, settings.build_path / "contracts")
    if artifact.abi_hash != deployment.abi_hash:
        raise DeploymentError(
            f"the deployed contract's ABI ({deployment.abi_hash}) differs from the sources' "
            f"({artifact.abi_hash}): run `consent-ledger deploy` to deploy the current sources"
        )
    return artifact.abi


def _built(settings: Settings) -> Artifact | None:
    try:
        return load_artifact(settings.build_path / "contracts", CONTRACT_NAME)
    except ToolchainError:
        return None
