"""Webhook delivery through crashes (issue 11): `consent-ledger serve` replicas on one PostgreSQL database
and one anvil, a brand's real receiver on loopback holding the first deliveries open; then the webhook
leader is SIGKILLed mid-delivery (two replicas: the other takes over), or the only server is stopped and
started again mid-delivery. Either way no event is lost: after deduplication by webhook-id every event
the outbox holds arrived, each one in flight at the crash arrived again, and every delivery ends delivered."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
from fault_support import Cluster, Load, Replica, describe, leader_pids, release, rows, sign_in, statuses, wait_for

from webhook_receiver import Receiver, receiver

pytestmark = [pytest.mark.chain, pytest.mark.timeout(420)]
CUSTOMERS = 12
FAST = {
    "CONSENT_WEBHOOK_TIMEOUT_SECONDS": "5",  # longer than the time to the crash: truly mid-delivery
    "CONSENT_WEBHOOK_CONNECT_TIMEOUT_SECONDS": "1",
    "CONSENT_WEBHOOK_RETRY_BASE_SECONDS": "0.1",
    "CONSENT_WEBHOOK_RETRY_CAP_SECONDS": "0.5",
    "CONSENT_WEBHOOK_INTERVAL": "0.1",
}


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


def _events(world) -> set[str]:
    return {f"evt_{r.id}" for r in rows(world.engine, "SELECT id FROM webhook_events")}


def _delivery_states(world) -> dict[str, int]:
    found = rows(world.engine, "SELECT state, count(*) AS n FROM webhook_deliveries GROUP BY state")
    return {str(r.state): int(r.n) for r in found}


def _prepare(world, cluster: Cluster, hooks: Receiver, replicas: list[Replica]) -> None:
    """The brand's endpoint (data.released), customers who granted, and one release per customer, while
    the receiver holds every request open."""
    cluster.wait_ready(replicas)
    base = replicas[0].url
    with httpx.Client(timeout=30) as client:
        auth = sign_in(client, base, world.brand)
        made = client.post(
            f"{base}/v1/webhooks/endpoints",
            json={"url": hooks.url("/hook"), "event_types": ["data.released"]},
            headers=auth,
        )
        assert made.status_code == 201, made.text
        load = Load(cluster, world.brand.address, threads=3)
        load.run(CUSTOMERS)
        assert len(load.accepted) == CUSTOMERS, load.errors[:5]
        wait_for(
            "the grants to confirm",
            lambda: statuses(world.engine) == {"confirmed": CUSTOMERS},
            120,
            detail=lambda: describe(world.engine),
        )
        for customer in load.accepted:
            reply = release(client, base, auth, [customer])
            assert reply.status_code == 200, reply.text
            assert len(reply.json()["released"]) == 1
    assert len(_events(world)) == CUSTOMERS


def _all_delivered(world, hooks: Receiver, in_flight: set[str]) -> None:
    wait_for(
        "every delivery to end delivered",
        lambda: _delivery_states(world) == {"delivered": CUSTOMERS},
        120,
        detail=lambda: f"{_delivery_states(world)}",
    )
    got = [r.headers["webhook-id"] for r in hooks.at("/hook")]
    assert set(got) == _events(world)  # none lost, none made up
    assert in_flight
    for event_id in in_flight:
        assert got.count(event_id) >= 2  # held open at the crash, so sent again
    attempts = rows(world.engine, "SELECT count(*) AS n FROM webhook_attempts")[0].n
    assert attempts >= CUSTOMERS


def _hold(hooks: Receiver) -> threading.Event:
    gate = threading.Event()
    hooks.hang["/hook"] = gate
    return gate


def test_a_webhook_leader_killed_mid_delivery_loses_no_event(world, cluster: Cluster, hooks: Receiver) -> None:
    gate = _hold(hooks)
    replicas = [cluster.start(f"r{n}", **FAST) for n in range(2)]
    _prepare(world, cluster, hooks, replicas)
    wait_for("deliveries held open at the receiver", lambda: len(hooks.at("/hook")) >= 2, 60, detail=cluster.logs)
    in_flight = {r.headers["webhook-id"] for r in hooks.at("/hook")}
    leader = cluster.by_pid(leader_pids(world.engine).get("webhooks", -1))
    assert leader is not None, f"no replica of ours leads the webhooks\n{cluster.logs()}"
    leader.kill()
    hooks.hang.pop("/hook")  # from now on the receiver answers at once
    gate.set()
    (survivor,) = cluster.alive()
    wait_for(
        "the survivor to lead the webhooks",
        lambda: leader_pids(world.engine).get("webhooks") == survivor.process.pid,
        60,
        detail=cluster.logs,
    )
    _all_delivered(world, hooks, in_flight)


def test_a_server_restarted_mid_delivery_loses_no_event(world, cluster: Cluster, hooks: Receiver) -> None:
    gate = _hold(hooks)
    first = cluster.start("first", **FAST)
    _prepare(world, cluster, hooks, [first])
    wait_for("deliveries held open at the receiver", lambda: len(hooks.at("/hook")) >= 2, 60, detail=cluster.logs)
    in_flight = {r.headers["webhook-id"] for r in hooks.at("/hook")}
    first.process.terminate()  # a restart: SIGTERM, while the deliveries are still open
    first.process.wait(60)
    hooks.hang.pop("/hook")
    gate.set()
    again = cluster.start("again", **FAST)
    cluster.wait_ready([again])
    _all_delivered(world, hooks, in_flight)
