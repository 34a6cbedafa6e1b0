"""Start, stop and inspect a local anvil node whose state survives restarts.

anvil runs in its own process group (so the npm launcher and its child stop together), writes its
log and pid under a state folder, and dumps its chain to `state.json` on SIGTERM and every
`state_interval` seconds, so even a SIGKILL loses at most that much.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from consent_ledger.chain.rpc import CircuitBreaker, RpcClient
from consent_ledger.errors import ChainError, DevnetError

HARDFORK = "cancun"  # matches the compiler's evmVersion; newer forks slowed block production here
CHAIN_ID = 31337

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def find_anvil(project_root: Path) -> Path:
    """The anvil binary: CONSENT_ANVIL, the npm optional package's binary, or `anvil` on PATH."""
    explicit = os.environ.get("CONSENT_ANVIL")
    if explicit:
        return Path(explicit)
    system = platform.system().lower()
    arch = _ARCH.get(platform.machine().lower(), platform.machine().lower())
    packaged = project_root / "node_modules" / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / "anvil"
    if packaged.is_file():
        return packaged
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    raise DevnetError("anvil not found: run `npm ci` in the project root (it installs @foundry-rs/anvil)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_anvil(pid: int) -> bool:
    """Whether `pid` runs anvil (Linux /proc; elsewhere we cannot tell and trust the pid file)."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not Path("/proc/self/cmdline").exists():
        return True
    try:
        return b"anvil" in cmdline.read_bytes()
    except OSError:
        return False


@dataclass(frozen=True)
class DevnetStatus:
    running: bool
    pid: int | None
    url: str
    chain_id: int | None = None
    block_number: int | None = None

    def describe(self) -> str:
        if not self.running:
            return f"devnet: stopped ({self.url})"
        return f"devnet: running pid {self.pid} at {self.url}, chain {self.chain_id}, block {self.block_number}"


class Devnet:
    """One anvil node with its files under `state_dir`."""

    def __init__(
        self,
        project_root: Path,
        state_dir: Path,
        port: int,
        host: str = "127.0.0.1",
        persist: bool = True,
        state_interval: int = 1,
        chain_id: int = CHAIN_ID,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.project_root = project_root
        self.state_dir = state_dir
        self.port = port
        self.host = host
        self.persist = persist
        self.state_interval = state_interval
        self.chain_id = chain_id
        self.extra_args = list(extra_args)  # more anvil flags (tests: --prune-history, --no-mining...)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "anvil.pid"

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "anvil.log"

    def _read_pid(self) -> int | None:
        """Our anvil's pid, or None. A stale pid file (after a reboot the pid may belong to another
        program) is ignored: the process must be alive and be anvil."""
        try:
            info = json.loads(self.pid_file.read_text())
            pid = int(info["pid"])
        except (OSError, ValueError, KeyError):
            return None
        return pid if _alive(pid) and _is_anvil(pid) else None

    def status(self) -> DevnetStatus:
        pid = self._read_pid()
        if pid is None:
            return DevnetStatus(False, None, self.url)
        rpc = RpcClient(self.url, timeout=2, breaker=CircuitBreaker(0))
        try:
            return DevnetStatus(True, pid, self.url, rpc.chain_id(), rpc.block_number())
        except ChainError:
            return DevnetStatus(False, pid, self.url)
        finally:
            rpc.close()

    def command(self) -> list[str]:
        args = [
            str(find_anvil(self.project_root)),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--chain-id",
            str(self.chain_id),
            "--hardfork",
            HARDFORK,
        ]
        if self.persist:
            # --preserve-historical-states: the state file keeps every block's state, so after a restart the
            # node still answers calls at old blocks (the verifier re-checks each release at its block).
            args += [
                "--state",
                str(self.state_file),
                "--state-interval",
                str(self.state_interval),
                "--preserve-historical-states",
            ]
        return args + self.extra_args

    def start(self, timeout: float = 30.0) -> DevnetStatus:
        """Start anvil unless ours already runs; wait until it answers JSON-RPC."""
        current = self.status()
        if current.running:
            return current
        if _port_in_use(self.host, self.port):
            raise DevnetError(
                f"port {self.port} is taken by another program: stop it or pick another port "
                "(--port, or CONSENT_DEVNET_PORT and CONSENT_RPC_URL)"
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(json.dumps({"pid": process.pid, "port": self.port, "host": self.host}))
        deadline = time.monotonic() + timeout
        rpc = RpcClient(self.url, timeout=2, breaker=CircuitBreaker(0))  # polls until anvil is up: no cooldown
        try:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise DevnetError(f"anvil exited with code {process.returncode}:\n{self._log_tail()}")
                with contextlib.suppress(ChainError):
                    rpc.chain_id()
                    return self.status()
                time.sleep(0.05)
        finally:
            rpc.close()
        self.stop()
        raise DevnetError(f"anvil did not answer within {timeout:.0f}s:\n{self._log_tail()}")

    def stop(self, timeout: float = 15.0) -> bool:
        """SIGTERM the whole process group (anvil dumps its state), SIGKILL if it hangs.
        Returns False when nothing was running."""
        pid = self._read_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        self._signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            self._reap(pid)
            time.sleep(0.05)
        if _alive(pid):
            self._signal_group(pid, signal.SIGKILL)
            self._reap(pid)
        self.pid_file.unlink(missing_ok=True)
        return True

    def kill(self) -> None:
        """SIGKILL, as a crash would (tests use this to check what survives)."""
        pid = self._read_pid()
        if pid is not None:
            self._signal_group(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and _alive(pid):
                self._reap(pid)
                time.sleep(0.02)
        self.pid_file.unlink(missing_ok=True)

    @staticmethod
    def _signal_group(pid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(os.getpgid(pid), sig)
        except ProcessLookupError:
            return

    @staticmethod
    def _reap(pid: int) -> None:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
