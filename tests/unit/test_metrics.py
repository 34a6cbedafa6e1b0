"""Metrics: a registry per process (nothing at import time), scrape-time gauges, and worker processes that
share their counters through prometheus-client's multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families

from consent_ledger.observability.metrics import MULTIPROC_ENV, Metrics

WORKER = """
import sys
from consent_ledger.observability.metrics import Metrics
metrics = Metrics()
metrics.submissions.labels("grant").inc(int(sys.argv[1]))
metrics.observe_request("POST", "/v1/releases", 200, 0.01)
if len(sys.argv) > 2:
    sys.stdout.write(metrics.exposition().decode())
"""


def _values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_two_apps_in_one_process_keep_their_own_counts() -> None:
    first, second = Metrics(), Metrics()
    first.record_answers([True, True, False])
    second.record_release(released=3, withheld=1)
    one, two = _values(first.exposition().decode()), _values(second.exposition().decode())
    assert one[("consent_permission_questions_total", (("answer", "allowed"),))] == 2
    assert one[("consent_permission_questions_total", (("answer", "denied"),))] == 1
    assert ("consent_records_released_total", ()) not in one or one[("consent_records_released_total", ())] == 0
    assert two[("consent_records_released_total", ())] == 3
    assert two[("consent_records_withheld_total", ())] == 1


def test_scrape_gauges_are_read_at_each_scrape() -> None:
    metrics, depth = Metrics(), [4]
    metrics.set_scrape(lambda: [GaugeMetricFamily("consent_outbox_waiting", "waiting", value=depth[0])])
    assert _values(metrics.exposition().decode())[("consent_outbox_waiting", ())] == 4
    depth[0] = 0
    assert _values(metrics.exposition().decode())[("consent_outbox_waiting", ())] == 0


def test_worker_processes_sum_their_counters(tmp_path: Path) -> None:
    env = {**os.environ, MULTIPROC_ENV: str(tmp_path)}
    for count in (2, 5):
        subprocess.run([sys.executable, "-c", WORKER, str(count)], env=env, check=True, timeout=60)
    scraped = subprocess.run(
        [sys.executable, "-c", WORKER, "1", "scrape"], env=env, check=True, timeout=60, capture_output=True, text=True
    ).stdout
    values = _values(scraped)
    assert values[("consent_submissions_total", (("kind", "grant"),))] == 8
    route = (("method", "POST"), ("route", "/v1/releases"), ("status", "200"))
    assert values[("consent_http_requests_total", route)] == 3
