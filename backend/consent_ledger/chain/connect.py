"""Build a `Ledger` for the configured chain from settings: RPC, deployment record and ABI."""

from __future__ import annotations

import dataclasses
from typing import Any

from consent_ledger.chain.compiler import compile_project, load_artifact
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
    """The built artifact when it matches the deployed ABI (no compiler run); else compile."""
    build_dir = settings.build_path / "contracts"
    try:
        artifact = load_artifact(build_dir, CONTRACT_NAME)
        if artifact.abi_hash == deployment.abi_hash:
            return artifact.abi
    except ToolchainError:
        pass
    artifact = compile_project(settings.project_root, build_dir).artifacts[CONTRACT_NAME]
    if artifact.abi_hash != deployment.abi_hash:
        raise DeploymentError(
            f"the deployed contract's ABI ({deployment.abi_hash}) differs from the sources' "
            f"({artifact.abi_hash}): run `consent-ledger deploy` to deploy the current sources"
        )
    return artifact.abi
