"""`consent-ledger webhook listen` as a real subprocess for tests: started with its flags, waited for until it
prints the URL it listens on, its event lines read from stdout, stopped with SIGINT (Ctrl-C)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from waiting import patient, wait_started

_LISTENING = re.compile(r"listening on (http://\S+)")


@dataclass
class Listener:
    process: subprocess.Popen[bytes]
    out: Path
    err: Path

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    @property
    def url(self) -> str:
        found = _LISTENING.search(self.stderr())
        assert found is not None, self.stderr()
        return found.group(1)

    def lines(self) -> list[str]:
        return [line for line in self.stdout().splitlines() if line.strip()]

    def wait_for_line(self, test: Callable[[str], bool], seconds: float = 60.0) -> str:
        """The first event line for which `test` holds, waiting for it (the listener prints as it receives)."""
        deadline = time.monotonic() + patient(seconds)
        while True:
            for line in self.lines():
                if test(line):
                    return line
            assert self.process.poll() is None, f"the listener exited {self.process.returncode}:\n{self.stderr()}"
            assert time.monotonic() < deadline, f"no such line within {seconds} s:\n{self.stdout()}\n{self.stderr()}"
            time.sleep(0.1)

    def interrupt(self, signum: int = signal.SIGINT) -> int:
        """Ctrl-C (or `signum`); the exit code."""
        self.process.send_signal(signum)
        return self.process.wait(patient(30))


def _as_a_background_job() -> None:
    """The child starts as a shell starts a background job (`cmd &`, and so `make test` under nohup): with SIGINT
    ignored. The listener must stop on Ctrl-C all the same."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def listen_command(*flags: str) -> list[str]:
    return [sys.executable, "-m", "consent_ledger.cli.main", "webhook", "listen", *flags]


def run_listen(tmp_path: Path, *flags: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The command run to its end (for flags it refuses)."""
    return subprocess.run(
        listen_command(*flags),
        check=False,
        env=_env(env),
        capture_output=True,
        text=True,
        timeout=patient(60),
        cwd=tmp_path,
    )


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
    env.update(extra or {})
    return env


@contextmanager
def listening(tmp_path: Path, *flags: str, env: dict[str, str] | None = None) -> Iterator[Listener]:
    """The listener running with `flags` until the block ends (then SIGINT, SIGKILL if it hangs)."""
    n = len(list(tmp_path.glob("listen-*.out")))
    out, err = tmp_path / f"listen-{n}.out", tmp_path / f"listen-{n}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            listen_command(*flags),
            env=_env(env),
            stdout=stdout,
            stderr=stderr,
            cwd=tmp_path,
            preexec_fn=_as_a_background_job,  # noqa: PLW1509 (no threads start between fork and exec here)
        )
    listener = Listener(process, out, err)
    try:
        wait_started(
            "consent-ledger webhook listen",
            lambda: _LISTENING.search(listener.stderr()) is not None,
            alive=lambda: process.poll() is None,
            output=lambda: listener.stdout() + listener.stderr(),
        )
        yield listener
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(patient(30))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
