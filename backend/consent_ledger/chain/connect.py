"""Build a `Ledger` for the configured chain from settings: RPC, deployment record and ABI."""

from __future__ import annotations

from consent_ledger.chain.compiler import compile_project
from consent_ledger.chain.deploy import CONTRACT_NAME, Deployment, load_deployment, still_deployed
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.config import Settings
from consent_ledger.errors import DeploymentError


def connect(settings: Settings) -> tuple[Ledger, Deployment]:
    """The deployed contract on `settings.rpc_url`; fails with advice when it is not there."""
    rpc = RpcClient(settings.rpc_url)
    chain_id = rpc.chain_id()
    deployment = load_deployment(settings.deployments_path, chain_id)
    if not still_deployed(rpc, deployment):
        raise DeploymentError(
            f"the contract recorded in deployments/{chain_id}.json ({deployment.address}) "
            f"is not on the chain "
            f"at {settings.rpc_url} (was the devnet reset?): run `consent-ledger deploy`"
        )
    artifact = compile_project(settings.project_root, settings.build_path / "contracts").artifacts[CONTRACT_NAME]
    return Ledger(rpc, deployment.address, artifact.abi), deployment
