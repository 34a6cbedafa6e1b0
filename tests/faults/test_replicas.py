"""Three `consent-ledger serve` replicas on one PostgreSQL database and one anvil, customers granting
and a brand reading through all three, the relayer's leader SIGKILLed in the middle of a batch and
then the next one: every 202 ends confirmed exactly once, the chain holds each grant once and no
rejection, the access log is one dense log whose anchors are on-chain, and `audit verify` passes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fault_support import (
    ROOT,
    Cluster,
    Load,
    Replica,
    describe,
    grant_rejections,
    granted_per_nonce,
    leader_pids,
    relayer_leader_pid,
    release,
    rows,
    sign_in,
    statuses,
    wait_for,
)

pytestmark = [pytest.mark.chain, pytest.mark.timeout(420)]

CUSTOMERS = 90
JOBS = ("relayer", "anchorer", "indexer", "webhooks")  # every leader-elected background job


class Reader(threading.Thread):
    """The brand asks for confirmed customers' data, through whichever replicas are alive."""

    def __init__(self, cluster: Cluster, world) -> None:
        super().__init__(daemon=True)
        self.cluster, self.world = cluster, world
        self.stop = threading.Event()
        self.released = 0
        self.unanswered = 0  # customers asked for in a release whose replica was killed before answering
        self.failures: list[str] = []

    def run(self) -> None:
        tokens: dict[str, dict[str, str]] = {}
        turn = 0
        with httpx.Client(timeout=15) as client:
            while not self.stop.is_set():
                alive = self.cluster.alive()
                confirmed = [
                    r.customer
                    for r in rows(self.world.engine, "SELECT customer FROM outbox WHERE status = 'confirmed'")
                ]
                if not alive or not confirmed:
                    time.sleep(0.1)
                    continue
                turn += 1
                replica = alive[turn % len(alive)]
                asked = confirmed[-5:]
                try:
                    if replica.name not in tokens:
                        tokens[replica.name] = sign_in(client, replica.url, self.world.brand)
                    reply = release(client, replica.url, tokens[replica.name], asked)
                except httpx.HTTPError as error:
                    if replica.dies_within(2.0):  # killed under this request: it may have committed the receipts
                        self.unanswered += len(asked)
                    else:
                        self.failures.append(f"{replica.name}: {error}")
                    continue
                if reply.status_code == 200:
                    self.released += len(reply.json()["released"])
                elif replica.alive:
                    self.failures.append(f"{replica.name}: {reply.status_code} {reply.text[:200]}")
                time.sleep(0.05)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "consent_ledger.cli.main", *args],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_three_replicas_lose_two_leaders_and_lose_nothing(world, cluster: Cluster, tmp_path: Path) -> None:
    engine, rpc, deployment = world.engine, world.node.rpc, world.deployment
    replicas = [cluster.start(f"r{n}") for n in range(3)]
    cluster.wait_ready(replicas)
    wait_for("a relayer leader", lambda: relayer_leader_pid(engine) is not None, 30, detail=cluster.logs)
    killed: list[Replica] = []
    kill_times: list[float] = []

    def kill_the_leader_mid_batch(done: int) -> None:
        if len(killed) >= 2 or done < (len(killed) + 1) * CUSTOMERS // 3:
            return
        previous = killed[-1].process.pid if killed else None
        wait_for(
            "a new relayer leader",
            lambda: relayer_leader_pid(engine) not in (None, previous),
            30,
            detail=cluster.logs,
        )
        # In the middle of a batch: rows submitted, not yet settled.
        wait_for("a batch in flight", lambda: statuses(engine).get("submitted", 0) > 0, 30, poll=0.005)
        leader = cluster.by_pid(relayer_leader_pid(engine) or -1)
        assert leader is not None, f"the leader is none of ours\n{cluster.logs()}"
        leader.kill()
        killed.append(leader)
        kill_times.append(time.monotonic())

    reader = Reader(cluster, world)
    reader.start()
    load = Load(cluster, world.brand.address, threads=4)
    try:
        load.run(CUSTOMERS, between=kill_the_leader_mid_batch)
        assert len(killed) == 2, f"only {len(killed)} leaders were killed"
        wait_for(
            "every accepted submission to settle",
            lambda: statuses(engine) == {"confirmed": len(load.accepted)},
            120,
            detail=lambda: describe(engine) + "\n" + cluster.logs(),
        )
        time.sleep(1)  # a few more releases through the survivor
    finally:
        reader.stop.set()
        reader.join(30)

    survivor = cluster.alive()
    assert len(survivor) == 1
    assert len(load.accepted) == CUSTOMERS, load.errors[:5]

    # Every 202 ended confirmed, exactly once, and the chain holds each grant once, none rejected.
    outbox = rows(engine, "SELECT id, customer, status FROM outbox")
    assert sorted(r.id for r in outbox) == sorted(load.accepted.values())
    assert {r.status for r in outbox} == {"confirmed"}
    granted = granted_per_nonce(rpc, deployment.address, deployment.deploy_block)
    assert {customer: count for (customer, _brand, _nonce), count in granted.items()} == dict.fromkeys(load.accepted, 1)
    assert grant_rejections(rpc, deployment.address, deployment.deploy_block) == []
    terms = rows(engine, "SELECT term FROM leases WHERE name = 'relayer'")[0].term
    assert terms >= 3  # three relayer leaders in turn

    # One dense access log: a leaf per receipt, indexes 0..n-1, whichever replica released.
    receipts = rows(engine, "SELECT count(*) AS n FROM release_receipts")[0].n
    leaves = rows(engine, "SELECT count(*) AS n, min(index) AS lo, max(index) AS hi FROM log_leaves")[0]
    # A release whose replica was killed before it answered may or may not have left its receipts.
    assert reader.released <= receipts <= reader.released + reader.unanswered, reader.failures[:5]
    assert receipts > 0
    assert (leaves.n, leaves.lo, leaves.hi) == (receipts, 0, receipts - 1)

    # Its anchors are on-chain, and an independent verifier agrees with the whole log.
    exported = tmp_path / "log.json"
    export = _cli(world.env(), "audit", "export", "--out", str(exported))
    assert export.returncode == 0, export.stderr
    verify = _cli({}, "audit", "verify", "--rpc", world.node.url, "--log", str(exported))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "OK" in verify.stdout
    anchors = rows(engine, "SELECT size, block_number, block_hash FROM log_anchors ORDER BY size")
    assert anchors
    assert anchors[-1].size == receipts
    for anchor in anchors:
        assert rpc.get_block(anchor.block_number)["hash"] == anchor.block_hash
    print(
        f"\nreplicas: {CUSTOMERS} grants accepted, {receipts} records released, {len(anchors)} anchors, "
        f"relayer lease terms {terms}, {len(load.errors)} retried requests"
    )


def test_serve_with_several_workers_runs_each_job_once(world, cluster: Cluster) -> None:
    """`serve --workers 3`: three uvicorn worker processes behind one port, each a replica; each job is
    led by exactly one of them, and grants through the shared port are relayed once each."""
    engine, rpc, deployment = world.engine, world.node.rpc, world.deployment
    server = cluster.start("workers", "--workers", "3")
    cluster.wait_ready([server])
    wait_for("a leader for every job", lambda: set(leader_pids(engine)) == set(JOBS), 60)
    load = Load(cluster, world.brand.address, threads=3)
    load.run(12)
    wait_for("grants confirmed", lambda: statuses(engine) == {"confirmed": 12}, 60, detail=lambda: describe(engine))
    workers = _children(server.process.pid)
    assert len(workers) >= 3
    assert set(leader_pids(engine).values()) <= workers  # each job led by one of the server's worker processes
    holders = rows(engine, "SELECT name, count(DISTINCT holder) AS n FROM leases GROUP BY name")
    assert {h.name: h.n for h in holders} == dict.fromkeys(JOBS, 1)
    granted = granted_per_nonce(rpc, deployment.address, deployment.deploy_block)
    assert {customer: n for (customer, _brand, _nonce), n in granted.items()} == dict.fromkeys(load.accepted, 1)
    assert grant_rejections(rpc, deployment.address, deployment.deploy_block) == []


def _children(pid: int) -> set[int]:
    found = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.add(int(status.parent.name))
    return found
