"""`report_s` of `bench insights`: the stewardship report command over the history `make run` seeds.

A throwaway anvil whose clock starts `days` + 1 days in the past (as `devnet start --history-days` does),
the demo brands and customers (`seed`), `days` days of history (`seed_history`), the access log anchored
and exported (as `audit export` does). Then `consent-ledger stewardship report --brand ADDR --rpc URL --log
FILE` runs as a separate process for each demo brand, as a reader would run it; `report_s` is the slowest
brand's wall time, interpreter start-up included. Each run must exit 0 (the log verifies).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from consent_ledger.audit import export_file
from consent_ledger.bench.chain import BenchChain, throwaway_chain
from consent_ledger.chain.devnet import free_port
from consent_ledger.composition import build_context
from consent_ledger.config import Settings
from consent_ledger.db.migrate import upgrade
from consent_ledger.services.demo import demo_account, seed
from consent_ledger.services.demo_history import DAY, seed_history

REPORT_TIMEOUT = 600


def _seeded_log(settings: Settings, chain: BenchChain, days: int, customers: int) -> tuple[dict[str, str], Path]:
    """Seed the demo data and history on `chain`: (demo label -> brand address, the exported log)."""
    url = f"sqlite:///{chain.root / 'history.db'}"
    upgrade(url)
    history_settings = settings.model_copy(
        update={
            "rpc_url": chain.url,
            "deployments_dir": chain.deployments_dir,
            "database_url": url,
            "var_dir": chain.root / "var",
            "relayer_key": None,
            "api_port": free_port(),
            "env": "development",
        }
    )
    context = build_context(history_settings)
    try:
        made = seed(context, customers)
        accounts = [demo_account(f"customer {n}") for n in range(customers)]
        seed_history(context, accounts, made.brands, days)
        context.anchorer.anchor_now()
        exported = context.audit.export()  # what `consent-ledger audit export` writes
    finally:
        context.close()
    log = chain.root / "log.jsonl"
    export_file.write(log, exported)
    return made.brands, log


def _report(brand: str, rpc_url: str, log: Path) -> float:
    command = [sys.executable, "-m", "consent_ledger.cli.main", "stewardship", "report"]
    began = time.perf_counter()
    done = subprocess.run(
        [*command, "--brand", brand, "--rpc", rpc_url, "--log", str(log)],
        capture_output=True,
        text=True,
        timeout=REPORT_TIMEOUT,
        check=False,
    )
    took = time.perf_counter() - began
    if done.returncode != 0:
        raise AssertionError(f"stewardship report exited {done.returncode}: {done.stderr.strip()[-500:]}")
    json.loads(done.stdout)  # one figures document
    return took


def report_figures(
    settings: Settings, days: int, customers: int, progress: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    past = ["--timestamp", str(int(time.time()) - (days + 1) * DAY)]
    with throwaway_chain(settings, "consent-stewardship-", past) as chain:
        progress(f"seeding {days} days of demo history for {customers} customers")
        began = time.perf_counter()
        brands, log = _seeded_log(settings, chain, days, customers)
        seeded = time.perf_counter() - began
        progress("running stewardship report for each demo brand")
        runs = {label: round(_report(brand, chain.url, log), 2) for label, brand in brands.items()}
    return {
        "report_s": max(runs.values()),
        "report_s_by_brand": runs,
        "report_history_days": days,
        "report_history_customers": customers,
        "report_history_seed_s": round(seeded, 1),
    }
