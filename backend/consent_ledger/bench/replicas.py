"""`serve` replicas as child processes for a benchmark: started on free ports with the bench's
settings (rate limits off), waited for until ready, their resident memory read, stopped as a group."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from consent_ledger.chain.devnet import free_port
from consent_ledger.config import Settings

NO_RATE_LIMITS = ("rate_limit_per_address", "rate_limit_per_identity", "rate_limit_nonces_per_address")


@dataclass
class Replica:
    process: subprocess.Popen[bytes]
    port: int
    log: Path


def _env(settings: Settings, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
    env.update(
        {
            "CONSENT_ENV": settings.env,
            "CONSENT_RPC_URL": settings.rpc_url,
            "CONSENT_DEPLOYMENTS_DIR": str(settings.deployments_path),
            "CONSENT_DATABASE_URL": str(settings.database_url),
            "CONSENT_VAR_DIR": str(settings.var_path),
            "CONSENT_API_PORT": str(port),
            "CONSENT_ANCHOR_EVERY_SECONDS": str(settings.anchor_every_seconds),
            # the clients all come from 127.0.0.1 and sign in a new customer per grant: the benchmark
            # measures the service, not the rate limiter (test_rate_limits shows the limits)
            **{f"CONSENT_{name.upper()}": "" for name in NO_RATE_LIMITS},
        }
    )
    return env


@contextmanager
def replicas(settings: Settings, count: int, root: Path) -> Iterator[list[Replica]]:
    root.mkdir(parents=True, exist_ok=True)
    started: list[Replica] = []
    try:
        for _ in range(count):
            port = free_port()
            log = root / f"serve-{port}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "consent_ledger.cli.main", "serve"],
                    env=_env(settings, port),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            started.append(Replica(process, port, log))
        for replica in started:
            _wait_ready(replica)
        yield started
    finally:
        for replica in started:
            _stop(replica.process)


def _wait_ready(replica: Replica, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if replica.process.poll() is not None:
            raise RuntimeError(f"a replica exited with {replica.process.returncode}: {replica.log.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", replica.port, timeout=2)
            conn.request("GET", "/v1/ready")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"a replica was not ready within {timeout:g}s: {replica.log.read_text()[-2000:]}")
        time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0
