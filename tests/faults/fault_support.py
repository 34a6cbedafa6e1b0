"""Real processes for the fault tests: an anvil node we can SIGKILL and restart from a state file, and
`consent-ledger serve` replicas (subprocesses, each in its own process group) on one database.

Everything started here is stopped in `close()` (SIGKILL to the process group), which the fixtures
call in a `finally`; every wait is bounded and fails with the process's log tail.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, text

from consent_ledger.chain.devnet import HARDFORK, find_anvil, free_port
from consent_ledger.chain.events import GRANT_REJECTED, GRANT_TOPICS, Granted, decode_logs
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.config import ANVIL_RELAYER_KEY
from consent_ledger.errors import ChainError
from waiting import START_TIMEOUT, patient, wait_started

ROOT = Path(__file__).resolve().parents[2]
SIWE_DOMAIN = "replicas.test"
PROFILE = {
    "email": {"category": "contact.email", "value": "ada@example.org"},
    "interests": {"category": "interests", "value": "hiking"},
}
GRANTED_CATEGORIES = ["contact.email", "interests"]
PURPOSE = "marketing.email"


def wait_for(
    what: str, check: Callable[[], bool], timeout: float, poll: float = 0.05, detail: Callable[[], str] = str
) -> None:
    """Poll `check` for background work; `timeout` (seconds) is scaled by CONSENT_TEST_PATIENCE."""
    timeout = patient(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{detail()}")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(10)


class Node:
    """anvil on a free port. `save_state()` writes the chain to a state file now (what anvil's own
    periodic dump does); `kill()` is a SIGKILL; `start(from_state=True)` restarts from that file, so
    everything after the last save is lost, as after a crash."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state_file = directory / "state.json"
        self.log = directory / "anvil.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.rpc = RpcClient(self.url, timeout=10)

    def start(self, from_state: bool = False, paused: bool = False) -> None:
        """`paused`: mine nothing (transactions wait in the pool) until `resume_mining()`."""
        directory = self.directory
        directory.mkdir(parents=True, exist_ok=True)
        command = [str(find_anvil(ROOT)), "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--chain-id", "31337", "--hardfork", HARDFORK]
        if from_state:
            command += ["--load-state", str(self.state_file)]
        if paused:
            command += ["--no-mining"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )

        def answers() -> bool:
            try:
                self.rpc.block_number()
            except ChainError:
                return False
            return True

        process = self.process
        wait_started(
            f"anvil on port {self.port}",
            answers,
            alive=lambda: process.poll() is None,
            output=lambda: f"exit code {process.returncode}:\n{_tail(self.log)}",
            poll=0.05,
        )

    def resume_mining(self) -> None:
        """After `start(paused=True)`: mine what waits in the pool, then every transaction as it comes."""
        self.rpc.request("evm_setAutomine", [True])

    def save_state(self) -> int:
        """Write the chain as it is now to the state file; returns the head block number saved."""
        dumped = str(self.rpc.request("anvil_dumpState"))
        state = gzip.decompress(bytes.fromhex(dumped[2:]))
        self.state_file.write_bytes(state)
        return int(json.loads(state)["best_block_number"])  # blocks may be mined while we write

    def kill(self) -> None:
        if self.process is not None:
            _kill_group(self.process)
        self.rpc.close()

    def close(self) -> None:
        self.kill()


@dataclass
class Replica:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def dies_within(self, seconds: float) -> bool:
        """Whether the process is dead or dies within `seconds`: a request cut off by a SIGKILL sees the
        socket close before the kernel reports the exit, so `alive` read at once can still say True."""
        try:
            self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return False
        return True

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        _kill_group(self.process)

    def tail(self) -> str:
        return f"--- {self.name} ({self.log}) ---\n{_tail(self.log)}"


@dataclass
class Cluster:
    """`consent-ledger serve` replicas sharing `env` (one database, one chain)."""

    directory: Path
    env: dict[str, str]
    replicas: list[Replica] = field(default_factory=list)

    def start(self, name: str, *args: str, **extra: str) -> Replica:
        """`consent-ledger serve` (with `args`, e.g. "--workers", "2") with `extra` environment variables."""
        port = free_port()
        env = {**os.environ, **self.env, **extra, "CONSENT_API_PORT": str(port), "PYTHONUNBUFFERED": "1"}
        log = self.directory / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "consent_ledger.cli.main", "serve", "--port", str(port), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=ROOT,
                start_new_session=True,
            )
        replica = Replica(name, port, process, log)
        self.replicas.append(replica)
        return replica

    def wait_ready(self, replicas: Iterable[Replica], timeout: float = START_TIMEOUT) -> None:
        """Until each replica answers /v1/health with 200; one that exits fails at once, with its log."""
        for replica in replicas:

            def ready(r: Replica = replica) -> bool:
                try:
                    return httpx.get(f"{r.url}/v1/health", timeout=5).status_code == 200
                except httpx.HTTPError:
                    return False

            def output(r: Replica = replica) -> str:
                return f"exit code {r.process.returncode}\n{r.tail()}"

            wait_started(replica.name, ready, alive=lambda r=replica: r.alive, output=output, timeout=timeout, poll=0.2)

    def alive(self) -> list[Replica]:
        return [r for r in self.replicas if r.alive]

    def by_pid(self, pid: int) -> Replica | None:
        return next((r for r in self.replicas if r.process.pid == pid), None)

    def logs(self) -> str:
        return "\n".join(r.tail() for r in self.replicas)

    def close(self) -> None:
        for replica in self.replicas:
            replica.kill()


def serve_env(node: Node, database_url: str, deployments: Path, var: Path, **extra: Any) -> dict[str, str]:
    env = {
        "CONSENT_ENV": "test",
        "CONSENT_RPC_URL": node.url,
        "CONSENT_DATABASE_URL": database_url,
        "CONSENT_DEPLOYMENTS_DIR": str(deployments),
        "CONSENT_VAR_DIR": str(var),
        "CONSENT_RELAYER_KEY": ANVIL_RELAYER_KEY,
        "CONSENT_SIWE_DOMAIN": SIWE_DOMAIN,
        "CONSENT_LEASE_SECONDS": "2",
        "CONSENT_RELAYER_INTERVAL": "0.1",
        "CONSENT_RELAYER_MAX_BACKOFF": "1",
        "CONSENT_ANCHOR_EVERY_SECONDS": "2",
        "CONSENT_ANCHOR_EVERY_LEAVES": "1000",
        # the load comes from one address and signs in a new customer per grant: faults, not rate
        # limits, are under test here (tests/integration/test_rate_limits.py shows the limits)
        "CONSENT_RATE_LIMIT_PER_ADDRESS": "",
        "CONSENT_RATE_LIMIT_PER_IDENTITY": "",
        "CONSENT_RATE_LIMIT_NONCES_PER_ADDRESS": "",
    }
    env.update({key: str(value) for key, value in extra.items()})
    return env


# ---------------------------------------------------------------- the API, as customers and brands use it


def sign_in(client: httpx.Client, base: str, account: LocalAccount) -> dict[str, str]:
    challenge = client.get(f"{base}/v1/auth/nonce", params={"address": account.address}).json()
    signature = Account.sign_message(encode_defunct(text=challenge["message"]), account.key).signature
    reply = client.post(
        f"{base}/v1/auth/login", json={"message": challenge["message"], "signature": "0x" + signature.hex()}
    )
    reply.raise_for_status()
    return {"Authorization": f"Bearer {reply.json()['token']}"}


def signed_grant(client: httpx.Client, base: str, auth: dict[str, str], account: LocalAccount, brand: str) -> Any:
    """Store data, fetch the grant's typed data, sign it as a wallet would: the submission's body."""
    client.put(f"{base}/v1/me/data", json={"fields": PROFILE}, headers=auth).raise_for_status()
    typed = client.post(
        f"{base}/v1/me/typed-data/grant",
        json={"brand": brand, "categories": GRANTED_CATEGORIES, "purposes": [PURPOSE], "days": 30},
        headers=auth,
    )
    typed.raise_for_status()
    signature = Account.sign_typed_data(account.key, full_message=typed.json()).signature
    return {"kind": "grant", "message": typed.json()["message"], "signature": "0x" + signature.hex()}


def grant(client: httpx.Client, base: str, account: LocalAccount, brand: str) -> dict[str, Any]:
    """Sign in, store data, fetch typed data, sign it as a wallet would, submit: the 202's body."""
    auth = sign_in(client, base, account)
    reply = client.post(
        f"{base}/v1/me/submissions", json=signed_grant(client, base, auth, account, brand), headers=auth
    )
    if reply.status_code != 202:
        raise AssertionError(f"submission answered {reply.status_code}: {reply.text}")
    return dict(reply.json())


def release(client: httpx.Client, base: str, auth: dict[str, str], customers: list[str]) -> httpx.Response:
    return client.post(
        f"{base}/v1/releases",
        json={"customers": customers, "categories": GRANTED_CATEGORIES, "purpose": PURPOSE},
        headers=auth,
    )


class Load:
    """Customers granting (and a brand reading) through whichever replicas are alive, in threads."""

    def __init__(self, cluster: Cluster, brand: str, threads: int = 4) -> None:
        self.cluster = cluster
        self.brand = brand
        self.threads = threads
        self.accepted: dict[str, int] = {}  # customer address -> submission id (202, or 200 for a resend)
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._turn = 0

    def _replica(self) -> Replica:
        with self._lock:
            alive = self.cluster.alive()
            if not alive:
                raise AssertionError("no replica is alive")
            self._turn += 1
            return alive[self._turn % len(alive)]

    def one(self, client: httpx.Client) -> None:
        """One customer grants as a wallet would through a node or replica outage: retried on whichever
        replica is alive, for a bounded time; the message is signed once and then resent as it is, so a
        202 lost with a killed replica comes back as 200 with the same submission, never as a second one."""
        account: LocalAccount = Account.create()
        body = None
        deadline = time.monotonic() + patient(60)
        while time.monotonic() < deadline:
            replica = self._replica()
            try:
                auth = sign_in(client, replica.url, account)
                body = body or signed_grant(client, replica.url, auth, account, self.brand)
                reply = client.post(f"{replica.url}/v1/me/submissions", json=body, headers=auth)
            except httpx.HTTPError as error:
                if replica.alive:
                    with self._lock:
                        self.errors.append(f"{replica.name}: {error!r}")
                time.sleep(0.2)
                continue
            if reply.status_code in (200, 202):  # 200: an earlier try of this very message was accepted
                with self._lock:
                    self.accepted[account.address] = int(reply.json()["id"])
                return
            with self._lock:
                self.errors.append(f"{replica.name}: submission answered {reply.status_code}: {reply.text[:200]}")
            time.sleep(0.2)
        with self._lock:
            self.errors.append(f"{account.address}: not accepted within {patient(60):.0f} s")

    def run(self, count: int, between: Callable[[int], None] = lambda _done: None) -> None:
        """`count` customers grant; `between(done)` runs in this thread after every customer."""
        done = 0
        lock = threading.Lock()

        def worker() -> None:
            nonlocal done
            with httpx.Client(timeout=15) as client:
                while True:
                    with lock:
                        if done >= count:
                            return
                        done += 1
                    self.one(client)

        threads = [threading.Thread(target=worker) for _ in range(self.threads)]
        for thread in threads:
            thread.start()
        seen = 0
        while any(t.is_alive() for t in threads):
            time.sleep(0.02)
            if len(self.accepted) != seen:
                seen = len(self.accepted)
                between(seen)
        for thread in threads:
            thread.join(60)


# ---------------------------------------------------------------- what the chain and the database hold


def ledger_events(rpc: RpcClient, contract: str, from_block: int, topic: str | list[str]) -> list[Any]:
    logs = rpc.request(
        "eth_getLogs", [{"address": contract, "fromBlock": hex(from_block), "toBlock": "latest", "topics": [topic]}]
    )
    return decode_logs(logs, contract)


def granted_per_nonce(rpc: RpcClient, contract: str, from_block: int) -> Counter[tuple[str, str, int]]:
    events = ledger_events(rpc, contract, from_block, GRANT_TOPICS)
    return Counter((e.customer, e.brand, e.nonce) for e in events if isinstance(e, Granted))


def grant_rejections(rpc: RpcClient, contract: str, from_block: int) -> list[Any]:
    return ledger_events(rpc, contract, from_block, GRANT_REJECTED)


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(text(sql), params))


def leader_pids(engine: Engine) -> dict[str, int]:
    """Job -> pid of the process holding its live lease (a holder id is host:pid:tag)."""
    live = rows(engine, "SELECT name, holder FROM leases WHERE expires_at > CURRENT_TIMESTAMP")
    return {str(name): int(str(holder).split(":")[1]) for name, holder in live}


def relayer_leader_pid(engine: Engine) -> int | None:
    return leader_pids(engine).get("relayer")


def statuses(engine: Engine) -> Counter[str]:
    return Counter(str(status) for (status,) in rows(engine, "SELECT status FROM outbox"))


def describe(engine: Engine) -> str:
    sent = rows(engine, "SELECT purpose, nonce, state, sends, error FROM sent_transactions ORDER BY nonce")
    return f"outbox: {dict(statuses(engine))}\nsent: {json.dumps([list(map(str, r)) for r in sent[-10:]])}"
