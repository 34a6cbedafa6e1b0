"""`consent-ledger bench webhooks` at a tiny size (issue 11 "Done when"): it runs the real delivery plane on a
throwaway anvil and database, every revocation arrives exactly once after deduplication by event id, and the
JSON has the figures' shape. No timing is asserted: the figures come from the full-size run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from waiting import patient

pytestmark = pytest.mark.chain
CLI = [sys.executable, "-m", "consent_ledger.cli.main"]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_tiny_webhook_bench_loses_nothing_and_has_the_full_shape(database: str, request) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
    tiny = ["--revocations", "24", "--brands", "3", "--batch", "10", "--wait", str(patient(120))]
    if database == "postgresql":
        tiny += ["--pg-admin-url", request.getfixturevalue("pg_admin_url")]
    run = subprocess.run(
        [*CLI, "bench", "webhooks", "--json", *tiny],
        env=env,
        capture_output=True,
        text=True,
        timeout=patient(600),
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    assert report["database"] == database
    assert (report["revocations"], report["brands"], report["revoke_batch"]) == (24, 3, 10)
    assert (report["events"], report["lost"], report["duplicates"], report["unexpected"]) == (24, 0, 0, 0)
    assert report["attempts"] >= 24
    for name in ("latency_p50_ms", "latency_p99_ms", "latency_max_ms"):
        assert isinstance(report[name], int)
        assert report[name] >= 0
    assert report["latency_p50_ms"] <= report["latency_p99_ms"] <= report["latency_max_ms"]
    assert report["deliveries_per_s"] > 0
    assert "receipt confirmed" in report["latency_from"]
    assert report["targets"] == {"latency_p99_ms": 2_000, "deliveries_per_s": 500}
    assert "revoked 24/24" in run.stderr  # progress goes to stderr, the JSON alone to stdout
