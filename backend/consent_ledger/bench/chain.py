"""A throwaway chain for a benchmark: a fresh anvil on a free port, the contract deployed, stopped
and deleted afterwards. Every benchmark measures against one of these, never the dev devnet."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

from consent_ledger.chain.compiler import Artifact, compile_project
from consent_ledger.chain.deploy import CONTRACT_NAME, Deployment, ensure_deployed
from consent_ledger.chain.devnet import Devnet, free_port
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.config import ANVIL_DEFAULT_KEY, Settings


@dataclass(frozen=True)
class BenchChain:
    root: Path  # a temporary folder for the benchmark's own files
    url: str
    rpc: RpcClient
    artifact: Artifact
    deployment: Deployment
    ledger: Ledger

    @property
    def deployments_dir(self) -> Path:
        return self.root / "deployments"


@contextmanager
def throwaway_chain(settings: Settings, prefix: str, anvil_args: Sequence[str] = ()) -> Iterator[BenchChain]:
    artifact = compile_project(settings.project_root, settings.build_path / "contracts").artifacts[CONTRACT_NAME]
    with TemporaryDirectory(prefix=prefix) as tmp:
        root = Path(tmp)
        devnet = Devnet(settings.project_root, root / "anvil", free_port(), persist=False, extra_args=anvil_args)
        devnet.start()
        try:
            rpc = RpcClient(devnet.url)
            deployer = Ledger(rpc, "0x" + "00" * 20, artifact.abi).sender(ANVIL_DEFAULT_KEY)
            deployment, _ = ensure_deployed(rpc, deployer, artifact, root / "deployments")
            yield BenchChain(root, devnet.url, rpc, artifact, deployment, Ledger(rpc, deployment.address, artifact.abi))
        finally:
            devnet.stop()
