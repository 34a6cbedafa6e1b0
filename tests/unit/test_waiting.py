"""The start-up waits of the test harness: a server that dies while starting fails the wait at once, with
its output, instead of being waited for until the bound."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from consent_ledger.chain.devnet import free_port
from live_server import app_in_thread
from waiting import StartupError, wait_started


def test_a_process_that_dies_while_starting_fails_at_once_with_its_output() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; print('no database here', file=sys.stderr); sys.exit(3)"],
        stderr=subprocess.PIPE,
        text=True,
    )
    with pytest.raises(StartupError, match="died while starting") as failure:
        wait_started(
            "the server",
            lambda: False,
            alive=lambda: process.poll() is None,
            output=lambda: f"exit code {process.wait()}: {process.stderr.read() if process.stderr else ''}",
            timeout=float("inf"),  # so only noticing the death can end the wait (pytest-timeout otherwise)
        )
    assert "exit code 3: no database here" in str(failure.value)


def test_a_process_that_hangs_fails_at_the_bound_saying_it_still_runs() -> None:
    with pytest.raises(StartupError, match=r"did not answer within 0 s \(still running\):\nlast lines"):
        wait_started("the server", lambda: False, alive=lambda: True, output=lambda: "last lines", timeout=0.2)


def test_wait_started_returns_once_the_server_answers() -> None:
    answers = iter([False, False, True])
    wait_started("the server", lambda: next(answers), alive=lambda: True, output=str, poll=0.01)


def test_an_app_whose_lifespan_fails_reports_the_error_instead_of_a_timeout() -> None:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        raise RuntimeError("the deployment record is missing")
        yield

    with (
        pytest.raises(StartupError, match="died while starting") as failure,
        app_in_thread(FastAPI(lifespan=lifespan), free_port()),
    ):
        pass
    assert "the deployment record is missing" in str(failure.value)


def test_an_app_in_a_thread_serves_until_the_block_ends() -> None:
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    port = free_port()
    with app_in_thread(app, port) as server:
        assert httpx.get(f"http://127.0.0.1:{port}/ping").json() == {"pong": "yes"}
    assert server.should_exit
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/ping", timeout=2)


def test_one_setting_scales_every_bound(project_root) -> None:
    probe = "import waiting as w; print(w.START_TIMEOUT, w.UI_TIMEOUT_MS, w.BACKGROUND_TIMEOUT_MS, w.patient(10))"
    env = {"CONSENT_TEST_PATIENCE": "3", "PYTHONPATH": str(project_root / "tests")}
    scaled = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    env["CONSENT_TEST_PATIENCE"] = "1"
    plain = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert [3 * float(x) for x in plain.stdout.split()] == [float(x) for x in scaled.stdout.split()]
    assert float(plain.stdout.split()[0]) >= 120  # a loaded 2-core machine starts a server well within this
