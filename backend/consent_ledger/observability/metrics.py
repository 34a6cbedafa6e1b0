"""Prometheus metrics of a serving process, in its own registry (nothing registered at import time).

Counters and histograms are updated where things happen (requests, checks, releases, submissions,
errors by class). Gauges about shared state (outbox depth, lags, anchor age, leaders) are read at
scrape time by a collector the composition root hands in, so every replica reports the same truth.

With `serve --workers N` the worker processes share the counters through prometheus-client's
multiprocess mode: PROMETHEUS_MULTIPROC_DIR names a directory (set before the workers start) where each
process writes its values, and a scrape of any worker sums them (`MultiProcessCollector`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ScrapeCollector(Collector):
    """Adapts a function that returns metric families, called at each scrape."""

    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self._collect = collect

    def collect(self) -> Iterable[Metric]:
        return self._collect()


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._scrape: ScrapeCollector | None = None
        registry = self.registry
        self.requests = Counter(
            "consent_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=registry
        )
        self.latency = Histogram(
            "consent_http_request_duration_seconds",
            "time to answer an HTTP request",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.errors = Counter(
            "consent_errors", "error responses by exception class and status", ["error", "status"], registry=registry
        )
        self.questions = Counter(
            "consent_permission_questions", "permission questions answered on-chain", ["answer"], registry=registry
        )
        self.released = Counter("consent_records_released", "customer records released to brands", registry=registry)
        self.withheld = Counter(
            "consent_records_withheld", "customer records withheld from a release", registry=registry
        )
        self.submissions = Counter(
            "consent_submissions", "signed messages accepted into the outbox", ["kind"], registry=registry
        )

    def set_scrape(self, scrape: Callable[[], Iterable[Metric]]) -> None:
        """The function that yields the scrape-time gauges (shared state, read from the database and chain)."""
        self._scrape = ScrapeCollector(scrape)

    def record_answers(self, answers: Sequence[bool]) -> None:
        allowed = sum(answers)
        if allowed:
            self.questions.labels("allowed").inc(allowed)
        if len(answers) - allowed:
            self.questions.labels("denied").inc(len(answers) - allowed)

    def record_release(self, released: int, withheld: int) -> None:
        self.released.inc(released)
        self.withheld.inc(withheld)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def exposition(self) -> bytes:
        """The text format for GET /metrics: this process's registry, or every worker's in multiprocess mode;
        plus the scrape-time gauges."""
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        else:
            registry = CollectorRegistry()
            registry.register(_Forward(self.registry))
        if self._scrape is not None:
            registry.register(self._scrape)
        return generate_latest(registry)


class _Forward(Collector):
    """Another registry's metrics, so the per-process registry never holds scrape-time collectors."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterable[Metric]:
        return self._source.collect()


def fresh_multiprocess_dir(var_path: Path, port: int) -> Path:
    """An empty directory for the metrics of `serve --workers N` on `port`: var/metrics/serve-<port>
    (emptied at start: counters begin at zero with the server, as a single process's do)."""
    path = var_path / "metrics" / f"serve-{port}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
