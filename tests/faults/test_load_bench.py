"""`consent-ledger bench load` in a short run: it completes with no error and prints the figures' shape.
(A smoke run: no timing is asserted; the figures come from the full benchmark.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.chain

CLI = [sys.executable, "-m", "consent_ledger.cli.main"]


def test_a_short_load_run_has_no_errors_and_the_full_shape(pg_admin_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
    short = ["--seconds", "3", "--clients", "2", "--customers", "20", "--pg-admin-url", pg_admin_url]
    run = subprocess.run(
        [*CLI, "bench", "load", "--json", *short],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    assert report["errors"] == 0, report
    assert set(report["setups"]) == {"two_replicas", "one_replica"}
    for name, replicas in (("two_replicas", 2), ("one_replica", 1)):
        setup = report["setups"][name]
        assert setup["errors"] == 0
        assert len(setup["replicas"]) == replicas
        assert all(r["rss_start_mb"] > 0 and r["rss_end_mb"] > 0 for r in setup["replicas"])
        for op in ("check", "release", "grant"):
            figures = setup["ops"][op]
            assert set(figures) == {"count", "errors", "per_s", "p50_ms", "p99_ms"}
            assert figures["count"] > 0
    assert set(report["ratio_two_to_one"]) == {"check", "release", "grant", "all"}
