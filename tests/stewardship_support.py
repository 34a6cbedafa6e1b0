"""A world with history, for the stewardship tests: a fresh anvil whose clock starts `days` days in the past
(as `consent-ledger devnet start --history-days` does), the contract, and the demo data plus `days` days of
demo history seeded through the real paths (`seed`, then `seed_history`), as `make run` does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from api_support import api_settings
from consent_ledger.audit import export_file
from consent_ledger.chain.compiler import Artifact
from consent_ledger.chain.deploy import Deployment, ensure_deployed
from consent_ledger.chain.devnet import Devnet, free_port
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.chain.tx import TxSender
from consent_ledger.composition import AppContext, build_context
from consent_ledger.config import ANVIL_DEFAULT_KEY, Settings
from consent_ledger.services.demo import demo_account, seed
from consent_ledger.services.demo_history import HistoryReport, seed_history
from waiting import START_TIMEOUT

ROOT = Path(__file__).resolve().parents[1]
DAY = 86_400


@dataclass
class HistoryChain:
    rpc: RpcClient
    deployment: Deployment
    deployments_dir: Path


@dataclass
class History:
    chain: HistoryChain
    settings: Settings
    brands: dict[str, str]  # demo label -> address
    report: HistoryReport
    tmp: Path

    def export_log(self, context: AppContext, path: Path) -> Path:
        """The access log as `consent-ledger audit export` writes it (everything anchored first)."""
        context.anchorer.anchor_now()
        exported = context.audit.export()  # what `consent-ledger audit export` writes
        export_file.write(path, exported)
        return path


@contextmanager
def seeded_history(
    tmp: Path, artifacts: dict[str, Artifact], *, days: int = 8, customers: int = 8
) -> Iterator[History]:
    node = Devnet(
        ROOT, tmp / "anvil", free_port(), persist=False, extra_args=["--timestamp", str(int(time.time()) - days * DAY)]
    )
    node.start(timeout=START_TIMEOUT)
    try:
        rpc = RpcClient(node.url)
        deployments = tmp / "deployments"
        deployment, _ = ensure_deployed(rpc, TxSender(rpc, ANVIL_DEFAULT_KEY), artifacts["ConsentLedger"], deployments)
        chain = HistoryChain(rpc, deployment, deployments)
        settings = api_settings(chain, f"sqlite:///{tmp / 'history.db'}", tmp, anchor_every_leaves=1_000_000)
        context = build_context(settings)
        try:
            made = seed(context, customers)
            accounts = [demo_account(f"customer {n}") for n in range(customers)]
            report = seed_history(context, accounts, made.brands, days)
        finally:
            context.close()
        yield History(chain, settings, made.brands, report, tmp)
    finally:
        node.stop()
