"""Shared fixtures: a real anvil per session on a free port, contracts compiled and deployed once,
and each test isolated by evm_snapshot / evm_revert."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from consent_ledger.chain.compiler import Artifact, collect_sources, compile_sources
from consent_ledger.chain.deploy import Deployment, ensure_deployed
from consent_ledger.chain.devnet import Devnet, free_port
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.chain.tx import TxSender
from consent_ledger.config import ANVIL_DEFAULT_KEY

ROOT = Path(__file__).resolve().parents[1]
# anvil's second default account: a relayer distinct from the deployer.
RELAYER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def artifacts() -> dict[str, Artifact]:
    """Our contracts plus the test-only ones, compiled once (cached across runs by source hash)."""
    sources = collect_sources(ROOT, ROOT / "contracts", ROOT / "tests" / "contracts")
    return compile_sources(ROOT, sources, ROOT / "build" / "test-contracts").artifacts


@pytest.fixture(scope="session")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    node = Devnet(ROOT, tmp_path_factory.mktemp("anvil"), free_port(), persist=False)
    node.start()
    yield node
    node.stop()


@dataclass
class Chain:
    rpc: RpcClient
    deployment: Deployment
    artifacts: dict[str, Artifact]

    def ledger(self) -> Ledger:
        return Ledger(self.rpc, self.deployment.address, self.artifacts["ConsentLedger"].abi)

    def now(self) -> int:
        return int(self.rpc.get_block("latest")["timestamp"], 16)

    def travel(self, seconds: int) -> None:
        """Move chain time forward and mine a block."""
        self.rpc.request("evm_increaseTime", [seconds])
        self.rpc.request("evm_mine", [])

    def fund(self, address: str, wei: int = 10**18) -> None:
        self.rpc.request("anvil_setBalance", [address, hex(wei)])


@pytest.fixture(scope="session")
def chain_session(devnet: Devnet, artifacts: dict[str, Artifact], tmp_path_factory: pytest.TempPathFactory) -> Chain:
    rpc = RpcClient(devnet.url)
    deployer = TxSender(rpc, ANVIL_DEFAULT_KEY)
    deployment, _ = ensure_deployed(rpc, deployer, artifacts["ConsentLedger"], tmp_path_factory.mktemp("deployments"))
    return Chain(rpc, deployment, artifacts)


@pytest.fixture
def chain(chain_session: Chain) -> Iterator[Chain]:
    """The session chain, rolled back after the test."""
    snapshot = chain_session.rpc.request("evm_snapshot")
    yield chain_session
    assert chain_session.rpc.request("evm_revert", [snapshot]) is True


@pytest.fixture
def ledger(chain: Chain) -> Ledger:
    return chain.ledger()


@pytest.fixture
def relayer(ledger: Ledger) -> TxSender:
    """A fresh sender per test (its nonce cache must not outlive an evm_revert)."""
    return ledger.sender(RELAYER_KEY)
