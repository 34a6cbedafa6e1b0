"""The small JSON-RPC client against a real anvil (and against nothing at all)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from consent_ledger.chain.devnet import Devnet, free_port
from consent_ledger.chain.rpc import CircuitBreaker, RpcClient
from consent_ledger.errors import NodeUnavailableError, RpcError

pytestmark = pytest.mark.chain


def test_dead_port_is_node_unavailable() -> None:
    rpc = RpcClient(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(NodeUnavailableError, match="no answer from"):
        rpc.block_number()
    with pytest.raises(NodeUnavailableError):
        rpc.chain_id()


@pytest.mark.parametrize("url", ["ws://127.0.0.1:8545", "127.0.0.1:8545", "http://"])
def test_unsupported_url_is_refused(url: str) -> None:
    with pytest.raises(NodeUnavailableError, match="unsupported RPC URL"):
        RpcClient(url)


def test_unknown_method_carries_the_node_code(devnet: Devnet) -> None:
    rpc = RpcClient(devnet.url)
    with pytest.raises(RpcError) as caught:
        rpc.request("eth_noSuchMethod", [])
    assert caught.value.method == "eth_noSuchMethod"
    assert caught.value.code == -32601  # JSON-RPC "method not found"
    assert "eth_noSuchMethod" in str(caught.value)
    # The connection is still usable afterwards.
    assert rpc.block_number() >= 0


def test_bad_params_are_an_rpc_error(devnet: Devnet) -> None:
    rpc = RpcClient(devnet.url)
    with pytest.raises(RpcError) as caught:
        rpc.request("eth_getBalance", ["not-an-address", "latest"])
    assert caught.value.code != 0


def test_chain_id_is_cached(devnet: Devnet, monkeypatch: pytest.MonkeyPatch) -> None:
    rpc = RpcClient(devnet.url)
    bodies: list[bytes] = []
    real_post = rpc._post

    def counting_post(body: bytes, slow: bool = False) -> Any:
        bodies.append(body)
        return real_post(body, slow)

    monkeypatch.setattr(rpc, "_post", counting_post)
    assert rpc.chain_id() == 31337
    assert len(bodies) == 1
    assert b"eth_chainId" in bodies[0]
    assert rpc.chain_id() == 31337
    assert len(bodies) == 1
    rpc.block_number()
    assert len(bodies) == 2  # other calls are not cached


def test_get_block_and_code(devnet: Devnet) -> None:
    rpc = RpcClient(devnet.url)
    genesis = rpc.get_block(0)
    assert int(genesis["number"], 16) == 0
    assert rpc.get_block("latest")["hash"].startswith("0x")
    with pytest.raises(RpcError, match="not found"):
        rpc.get_block(10**9)
    assert rpc.get_code("0x" + "00" * 19 + "99") == "0x"


def test_threads_share_one_client(devnet: Devnet) -> None:
    rpc = RpcClient(devnet.url)
    errors: list[BaseException] = []
    answers: list[int] = []

    def work() -> None:
        try:
            for _ in range(20):
                answers.append(rpc.block_number())
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(answers) == 160


def test_reconnects_after_the_node_restarts(tmp_path: Path, project_root: Path) -> None:
    """A kept-alive connection broken by a restart is reopened, not reported as an outage."""
    node = Devnet(project_root, tmp_path / "devnet", free_port(), persist=False)
    node.start()
    try:
        # No cooldown: this test is about reconnecting, not about the circuit breaker (tested below).
        rpc = RpcClient(node.url, timeout=5, breaker=CircuitBreaker(0))
        rpc.request("anvil_mine", ["0x2"])
        assert rpc.block_number() == 2
        node.stop()
        node.start()  # the client's kept-alive connection now leads nowhere
        assert rpc.block_number() == 0
        node.stop()
        with pytest.raises(NodeUnavailableError):
            rpc.block_number()
        node.start()
        assert rpc.block_number() == 0
    finally:
        node.stop()


def test_json_rpc_batch_answers_in_order(devnet) -> None:
    rpc = RpcClient(devnet.url)
    chain_id, block, missing = rpc.batch(
        [("eth_chainId", []), ("eth_blockNumber", []), ("eth_getBlockByNumber", ["0xffffff", False])]
    )
    assert int(chain_id, 16) == 31337
    assert int(block, 16) >= 0
    assert missing is None
    assert rpc.batch([]) == []
    with pytest.raises(RpcError):
        rpc.batch([("eth_chainId", []), ("no_such_method", [])])


def test_nonces_of_matches_nonce_of(chain) -> None:
    ledger = chain.ledger()
    pairs = [("0x" + f"{i:040x}", "0x" + f"{i + 1:040x}") for i in range(5)]
    assert ledger.nonces_of(pairs) == [ledger.nonce_of(c, b) for c, b in pairs]


def _wait_stopped(group: int) -> None:
    """Until every process of the group is in the stopped state (`T` in /proc/<pid>/stat)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        states = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == group:  # fields after the name: state, ppid, pgrp, ...
                states.append(fields[0])
        if states and all(state in ("T", "t") for state in states):
            return
        time.sleep(0.01)
    raise AssertionError(f"process group {group} did not stop within 10 s")


def test_a_hung_node_fails_fast_and_recovers(tmp_path: Path, project_root: Path) -> None:
    """SIGSTOP: the node accepts connections but never answers. The first call gives up after its timeout,
    the next ones fail at once while the circuit is open, and calls answer again soon after SIGCONT."""
    node = Devnet(project_root, tmp_path / "devnet", free_port(), persist=False)
    node.start()
    pid = node.status().pid
    assert pid is not None
    group = os.getpgid(pid)
    rpc = RpcClient(node.url, timeout=0.5, breaker=CircuitBreaker(cooldown=0.5))
    try:
        assert rpc.block_number() == 0
        os.killpg(group, signal.SIGSTOP)
        _wait_stopped(group)  # the signal is delivered asynchronously: a call made at once may still be answered
        began = time.monotonic()
        with pytest.raises(NodeUnavailableError, match=r"timed out after 0\.5s"):
            rpc.block_number()
        assert time.monotonic() - began < 5  # gave up after its timeout (without one it would wait forever)
        assert rpc.breaker.state == "open"
        began = time.monotonic()
        for _ in range(20):
            with pytest.raises(NodeUnavailableError, match="not answering"):
                rpc.get_block("latest")
        assert time.monotonic() - began < 5  # open circuit: no waiting (20 timeouts would take 10 s)
        time.sleep(0.6)
        with pytest.raises(NodeUnavailableError, match=r"timed out after 0\.5s"):
            rpc.block_number()  # the probe, still unanswered
        os.killpg(group, signal.SIGCONT)
        deadline = time.monotonic() + 10
        while True:
            try:
                assert rpc.block_number() == 0
                break
            except NodeUnavailableError:
                assert time.monotonic() < deadline, "no recovery within 10 s of SIGCONT"
                time.sleep(0.1)
        assert rpc.breaker.state == "closed"
    finally:
        os.killpg(group, signal.SIGCONT)
        node.stop()
