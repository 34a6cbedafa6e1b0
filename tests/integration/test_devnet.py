"""The local anvil node: start, status, stop, state that survives a restart, a taken port."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from consent_ledger.chain.devnet import CHAIN_ID, Devnet, find_anvil, free_port
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.chain.tx import TxSender
from consent_ledger.config import ANVIL_DEFAULT_KEY
from consent_ledger.errors import DevnetError

pytestmark = pytest.mark.chain

ADDRESS = "0x" + "ab" * 20
CODE = "0x6001600055"  # PUSH1 1 PUSH1 0 SSTORE


def _gone(pid: int) -> bool:
    """No such process, or only a zombie left for someone else to reap."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state == "Z"


def _wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.02)
    return _gone(pid)


@pytest.fixture
def node(tmp_path: Path, project_root: Path) -> Iterator[Devnet]:
    devnet = Devnet(project_root, tmp_path / "devnet", free_port(), persist=True)
    yield devnet
    devnet.stop()


def test_start_status_stop(node: Devnet) -> None:
    status = node.start()
    assert status.running is True
    assert status.pid is not None
    assert status.chain_id == CHAIN_ID
    assert status.block_number == 0
    assert status.url == node.url
    assert f"pid {status.pid}" in status.describe()
    assert json.loads(node.pid_file.read_text())["pid"] == status.pid

    again = node.status()
    assert again.running is True
    assert again.pid == status.pid

    assert node.stop() is True
    assert not node.pid_file.exists()
    stopped = node.status()
    assert stopped.running is False
    assert stopped.pid is None
    assert "stopped" in stopped.describe()
    # Stopping again is a no-op that says nothing was running.
    assert node.stop() is False


def test_status_of_a_devnet_never_started(node: Devnet) -> None:
    status = node.status()
    assert status.running is False
    assert status.pid is None
    assert status.chain_id is None
    assert "stopped" in status.describe()


def test_start_twice_returns_the_same_pid(node: Devnet) -> None:
    first = node.start()
    second = node.start()
    assert second.running is True
    assert second.pid == first.pid
    # A second Devnet object on the same folder sees the same node.
    twin = Devnet(node.project_root, node.state_dir, node.port)
    assert twin.start().pid == first.pid


def test_stop_leaves_no_process(node: Devnet) -> None:
    pid = node.start().pid
    assert pid is not None
    node.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    # The port is free again.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        assert sock.connect_ex((node.host, node.port)) != 0


def test_stop_kills_the_whole_process_group(
    tmp_path: Path, project_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like the npm launcher: the recorded pid is a wrapper whose child is the real anvil."""
    real = find_anvil(project_root)
    child_pid_file = tmp_path / "child.pid"
    wrapper = tmp_path / "anvil-wrapper.sh"
    wrapper.write_text(f'#!/bin/sh\n"{real}" "$@" &\necho $! > "{child_pid_file}"\nwait $!\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("CONSENT_ANVIL", str(wrapper))

    devnet = Devnet(project_root, tmp_path / "devnet", free_port(), persist=False)
    try:
        wrapper_pid = devnet.start().pid
        child_pid = int(child_pid_file.read_text())
        assert wrapper_pid is not None
        assert child_pid != wrapper_pid
        assert not _gone(child_pid)
    finally:
        devnet.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(wrapper_pid, 0)
    assert _wait_gone(child_pid), f"anvil (pid {child_pid}) outlived the stop of its launcher"


def test_state_survives_a_restart(node: Devnet) -> None:
    node.start()
    rpc = RpcClient(node.url)
    rpc.request("anvil_setBalance", [ADDRESS, hex(12345)])
    rpc.request("anvil_setCode", [ADDRESS, CODE])
    rpc.request("anvil_mine", ["0x5"])
    block = rpc.block_number()
    tip_hash = rpc.get_block(block)["hash"]
    assert block >= 5
    rpc.close()

    assert node.stop() is True  # SIGTERM: anvil dumps its state
    assert node.state_file.is_file()

    status = node.start()
    assert status.block_number == block
    rpc = RpcClient(node.url)
    try:
        assert int(rpc.request("eth_getBalance", [ADDRESS, "latest"]), 16) == 12345
        assert rpc.get_code(ADDRESS) == CODE
        assert rpc.get_block(block)["hash"] == tip_hash
    finally:
        rpc.close()


def test_old_blocks_stay_answerable_after_a_restart(node: Devnet) -> None:
    """The verifier re-asks the contract at each release's block: the state file keeps historical states."""
    node.start()
    rpc = RpcClient(node.url)
    sender = rpc.request("eth_accounts")[0]

    def pay(wei: int) -> int:
        tx = rpc.request("eth_sendTransaction", [{"from": sender, "to": ADDRESS, "value": hex(wei)}])
        return TxSender(rpc, ANVIL_DEFAULT_KEY).wait(tx).block_number

    old_block = pay(111)
    pay(222)
    rpc.request("anvil_mine", ["0x3"])
    rpc.close()
    assert node.stop() is True
    node.start()
    rpc = RpcClient(node.url)
    try:
        assert int(rpc.request("eth_getBalance", [ADDRESS, hex(old_block)]), 16) == 111
        assert int(rpc.request("eth_getBalance", [ADDRESS, "latest"]), 16) == 333
    finally:
        rpc.close()


def test_without_persist_a_restart_starts_over(tmp_path: Path, project_root: Path) -> None:
    devnet = Devnet(project_root, tmp_path / "devnet", free_port(), persist=False)
    try:
        devnet.start()
        rpc = RpcClient(devnet.url)
        rpc.request("anvil_mine", ["0x3"])
        assert rpc.block_number() == 3
        rpc.close()
        devnet.stop()
        assert devnet.start().block_number == 0
        assert not devnet.state_file.exists()
    finally:
        devnet.stop()


def test_taken_port_is_refused_clearly(node: Devnet) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind((node.host, node.port))
        squatter.listen(1)
        with pytest.raises(DevnetError, match=rf"port {node.port} is taken"):
            node.start()
    assert node.status().running is False
    assert not node.pid_file.exists()


def test_stale_pid_file_is_ignored(node: Devnet) -> None:
    """A pid file left by a crash whose process is gone: status says stopped, start starts anew."""
    pid = node.start().pid
    assert pid is not None
    node.kill()
    assert _wait_gone(pid)
    node.pid_file.write_text(json.dumps({"pid": pid, "port": node.port, "host": node.host}))
    assert node.status().running is False
    restarted = node.start()
    assert restarted.running is True
    assert restarted.pid != pid


def test_anvil_that_exits_at_once_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "fake-anvil.sh"
    fake.write_text("#!/bin/sh\necho 'boom: cannot start' >&2\nexit 7\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CONSENT_ANVIL", str(fake))
    devnet = Devnet(tmp_path, tmp_path / "devnet", free_port(), persist=False)
    with pytest.raises(DevnetError, match="code 7") as caught:
        devnet.start(timeout=10)
    assert "boom: cannot start" in str(caught.value)
