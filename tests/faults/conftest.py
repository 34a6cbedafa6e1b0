"""Fixtures of the fault tests: a node of their own (they kill it), the contract deployed on it, a
PostgreSQL database migrated with a registered brand, and `serve` replicas, all stopped in `finally`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fault_support import ROOT, Cluster, Node, serve_env
from sqlalchemy import Engine

from consent_ledger.brands.registry import BrandRegistry
from consent_ledger.chain.compiler import compile_project
from consent_ledger.chain.deploy import CONTRACT_NAME, Deployment, ensure_deployed
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.tx import TxSender
from consent_ledger.config import ANVIL_DEFAULT_KEY
from consent_ledger.db.engine import make_engine, make_session_factory
from consent_ledger.db.migrate import upgrade


@dataclass
class World:
    node: Node
    deployment: Deployment
    ledger: Ledger
    database_url: str
    engine: Engine
    brand: LocalAccount
    deployments: Path
    var: Path

    def env(self, **extra: object) -> dict[str, str]:
        return serve_env(self.node, self.database_url, self.deployments, self.var, **extra)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    anvil = Node(tmp_path / "anvil")
    try:
        anvil.start()
        yield anvil
    finally:
        anvil.close()


@pytest.fixture
def world(node: Node, pg_database: str, tmp_path: Path) -> Iterator[World]:
    artifact = compile_project(ROOT, ROOT / "build" / "contracts").artifacts[CONTRACT_NAME]
    deployments = tmp_path / "deployments"
    deployment, _ = ensure_deployed(node.rpc, TxSender(node.rpc, ANVIL_DEFAULT_KEY), artifact, deployments)
    upgrade(pg_database)
    engine = make_engine(pg_database)
    brand: LocalAccount = Account.create()
    BrandRegistry(make_session_factory(engine)).add(brand.address, "Acme Outdoor")
    try:
        ledger = Ledger(node.rpc, deployment.address, artifact.abi)
        yield World(node, deployment, ledger, pg_database, engine, brand, deployments, tmp_path / "var")
    finally:
        engine.dispose()


@pytest.fixture
def cluster(tmp_path: Path, world: World) -> Iterator[Cluster]:
    replicas = Cluster(tmp_path, world.env())
    try:
        yield replicas
    finally:
        replicas.close()
