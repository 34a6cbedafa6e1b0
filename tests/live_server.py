"""Real servers for tests, on a free port, against the session anvil.

`live_server`: `consent-ledger serve` in a subprocess of its own, for faults that would take the test
process down with them (a crash of the interpreter) and for what only a real server shows (uvicorn's
handling of bodies, headers and logs). `app_in_thread`: an app object under uvicorn in a thread of the
test process, when the test needs the app's context. Both wait for start-up with the bounds of
`waiting` and fail at once, with the server's output, when it dies while starting.
"""

from __future__ import annotations

import http.client
import logging
import os
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from consent_ledger.chain.devnet import free_port
from consent_ledger.config import ANVIL_RELAYER_KEY
from waiting import wait_started


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
    def answers() -> bool:
        try:
            status, _, _ = server.request("GET", "/v1/catalog")
        except OSError:
            return False
        return status == 200

    def output() -> str:
        return f"exit code {server.process.returncode} ({server.log}):\n{server.output()}"

    wait_started("consent-ledger serve", answers, alive=server.alive, output=output)


class _Collected(logging.Handler):
    """uvicorn's error log while a server starts (a failing lifespan or bind is reported there)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def app_in_thread(app: FastAPI, port: int) -> Iterator[uvicorn.Server]:
    """Serve `app` on 127.0.0.1:`port` in a daemon thread until the block ends; yields once it accepts
    requests (its lifespan has run). Dying while starting fails at once with uvicorn's errors."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    collected = _Collected()
    died: list[str] = []

    def run() -> None:
        try:
            server.run()
        except BaseException:  # SystemExit on a failed start-up ends a thread silently: keep why
            died.append(traceback.format_exc())

    error_log = logging.getLogger("uvicorn.error")
    error_log.addHandler(collected)
    thread = threading.Thread(target=run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        wait_started(
            f"the API on port {port}",
            lambda: server.started,
            alive=thread.is_alive,
            output=lambda: "\n".join(collected.lines + died) or "(uvicorn logged nothing)",
            poll=0.02,
        )
    except BaseException:
        server.should_exit = True
        thread.join(30)
        raise
    finally:
        error_log.removeHandler(collected)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(30)
