"""`consent-ledger serve` in a subprocess of its own, on a free port, against the session anvil.

For faults that would take the test process down with them (a crash of the interpreter) and for
what only a real server shows (uvicorn's handling of bodies, headers and logs).
"""

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
from consent_ledger.config import ANVIL_RELAYER_KEY

START_TIMEOUT = 60.0


@dataclass
class LiveServer:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = self.connection()
        try:
            conn.request(method, path, body, headers or {})
            reply = conn.getresponse()
            return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
        finally:
            conn.close()

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def server_env(chain, tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
    env.update(
        CONSENT_ENV="test",
        CONSENT_RPC_URL=chain.rpc.url,
        CONSENT_DEPLOYMENTS_DIR=str(chain.deployments_dir),
        CONSENT_DATABASE_URL=f"sqlite:///{tmp_path / 'live.db'}",
        CONSENT_VAR_DIR=str(tmp_path / "var"),
        CONSENT_RELAYER_KEY=ANVIL_RELAYER_KEY,
    )
    env.update({f"CONSENT_{k.upper()}": v for k, v in settings.items()})
    return env


@contextmanager
def live_server(chain, tmp_path: Path, *, relayer: bool = False, **settings: str) -> Iterator[LiveServer]:
    """Start `serve` with CONSENT_* `settings` (keyword names without the prefix), wait until it
    answers, stop it afterwards (SIGTERM, then SIGKILL)."""
    port = free_port()
    env = server_env(chain, tmp_path, api_port=str(port), siwe_domain=f"127.0.0.1:{port}", **settings)
    log = tmp_path / f"serve-{port}.log"
    cli = [sys.executable, "-m", "consent_ledger.cli.main"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)  # as before serve
    args = [*cli, "serve"] + ([] if relayer else ["--no-relayer"])
    with log.open("wb") as out:
        process = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = LiveServer(process, port, log)
    try:
        _wait_until_up(server)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _wait_until_up(server: LiveServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if not server.alive():
            raise AssertionError(f"serve exited with {server.process.returncode}:\n{server.output()}")
        try:
            status, _, _ = server.request("GET", "/v1/catalog")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"serve did not answer within {START_TIMEOUT} s:\n{server.output()}")
