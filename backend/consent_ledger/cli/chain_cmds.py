"""compile, devnet, deploy, status."""

from __future__ import annotations

import argparse
import time
from typing import Any

from consent_ledger.chain.artifacts import contract_artifact, write_packaged
from consent_ledger.chain.compiler import compile_project
from consent_ledger.chain.deploy import CONTRACT_NAME, ensure_deployed, genesis_hash, load_deployment, still_deployed
from consent_ledger.chain.devnet import Devnet
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.cli.common import add_rpc_flag, emit_json, say, settings_from
from consent_ledger.config import ANVIL_DEFAULT_KEY, Settings
from consent_ledger.errors import ChainError, ConfigError, DeploymentError

DAY = 86_400


def register(commands: Any) -> None:
    p = commands.add_parser("compile", help="compile contracts/ into build/contracts")
    p.set_defaults(handler=cmd_compile)

    p = commands.add_parser("devnet", help="start, stop or inspect the local anvil node")
    p.add_argument("action", choices=["start", "stop", "status"])
    p.add_argument("--port", type=int, help="port (default: $CONSENT_DEVNET_PORT or 8545)")
    p.add_argument(
        "--history-days",
        type=int,
        default=0,
        help="a fresh devnet (no saved state) starts its clock this many days in the past, so `seed "
        "--history-days` can write a history that ends now",
    )
    p.set_defaults(handler=cmd_devnet)

    p = commands.add_parser("deploy", help="deploy ConsentLedger (reuses a live deployment on the same chain)")
    add_rpc_flag(p)
    p.set_defaults(handler=cmd_deploy)

    p = commands.add_parser("status", help="devnet, chain and deployment at a glance")
    add_rpc_flag(p)
    p.set_defaults(handler=cmd_status)


def devnet_for(settings: Settings, port: int | None = None, history_days: int = 0) -> Devnet:
    devnet = Devnet(settings.project_root, settings.var_path / "devnet", port or settings.devnet_port)
    if history_days > 0 and not devnet.state_file.exists():
        devnet.extra_args += ["--timestamp", str(int(time.time()) - history_days * DAY)]
    return devnet


def cmd_compile(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    result = compile_project(settings.project_root, settings.build_path / "contracts")
    for warning in result.warnings:
        say(warning)
    artifact = result.artifacts[CONTRACT_NAME]
    write_packaged(artifact)  # what the wheel ships (make wheel)
    state = "up to date" if result.cached else "compiled"
    target = settings.build_path / "contracts"
    say(f"{state}: {len(result.artifacts)} contracts with solc {artifact.compiler} -> {target}")
    return 0


def cmd_devnet(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    devnet = devnet_for(settings, args.port, args.history_days if args.action == "start" else 0)
    if args.action == "start":
        status = devnet.start()
        say(status.describe())
        say(f"state persisted in {devnet.state_file}; log in {devnet.log_file}")
    elif args.action == "stop":
        say("devnet stopped (state saved)" if devnet.stop() else "devnet was not running")
    else:
        say(devnet.status().describe())
    return 0


def deployer_key(settings: Settings, chain_id: int) -> str:
    if settings.deployer_key:
        return settings.deployer_key
    if chain_id == 31337:
        return ANVIL_DEFAULT_KEY
    raise ConfigError(f"chain {chain_id} is not a devnet: set CONSENT_DEPLOYER_KEY to a funded key to deploy")


def cmd_deploy(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    artifact = contract_artifact(settings.project_root, settings.build_path / "contracts")
    rpc = RpcClient(settings.rpc_url)
    chain_id = rpc.chain_id()
    sender = Ledger(rpc, "0x" + "00" * 20, artifact.abi).sender(deployer_key(settings, chain_id))
    deployment, reused = ensure_deployed(rpc, sender, artifact, settings.deployments_path)
    verb = "reusing" if reused else "deployed"
    say(
        f"{verb} {CONTRACT_NAME} at {deployment.address} on chain {chain_id} "
        f"(genesis {deployment.genesis_hash[:10]}…), block {deployment.deploy_block}"
    )
    emit_json(deployment.to_json())
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    say(devnet_for(settings).status().describe())
    rpc = RpcClient(settings.rpc_url)
    try:
        chain_id = rpc.chain_id()
        deployment = load_deployment(settings.deployments_path, chain_id, genesis_hash(rpc))
    except (ChainError, DeploymentError) as error:
        say(f"chain: {error}")
        return 1
    live = "live" if still_deployed(rpc, deployment) else "NOT on this chain (run `consent-ledger deploy`)"
    say(f"chain {chain_id} at {rpc.display_url}, block {rpc.block_number()}")
    say(f"{deployment.contract} at {deployment.address}: {live}")
    return 0
