"""A node that hangs (SIGSTOP: it keeps its sockets open and answers nothing) against a running `serve`:
releases, checks, health and readiness answer 503 within about two seconds, nothing is released, and
everything works again soon after SIGCONT, without a restart."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
from eth_account import Account
from fault_support import PURPOSE, Cluster, grant, release, rows, sign_in, wait_for

pytestmark = pytest.mark.chain

WITHIN = 2.5  # seconds: CONSENT_RPC_TIMEOUT (1.5 s) plus room for a busy machine


@contextmanager
def stopped(pid: int) -> Iterator[None]:
    """SIGSTOP the node's process group; SIGCONT on the way out, whatever happened."""
    group = os.getpgid(pid)
    os.killpg(group, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(group, signal.SIGCONT)


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    began = time.monotonic()
    reply = call()
    return reply, time.monotonic() - began


def test_a_hung_node_gives_503s_fast_and_recovers(world, cluster: Cluster) -> None:
    replica = cluster.start("only")
    cluster.wait_ready([replica])
    base = replica.url
    client = httpx.Client(timeout=30)
    customer = Account.create()
    submission = grant(client, base, customer, world.brand.address)["id"]
    wait_for(
        "the grant to be confirmed",
        lambda: rows(world.engine, "SELECT status FROM outbox WHERE id = :i", i=submission)[0][0] == "confirmed",
        60,
        detail=cluster.logs,
    )
    brand_auth = sign_in(client, base, world.brand)
    check = {"questions": [{"customer": customer.address, "categories": ["contact.email"], "purpose": PURPOSE}]}
    assert release(client, base, brand_auth, [customer.address]).json()["released"]
    receipts_before = len(client.get(f"{base}/v1/releases", headers=brand_auth).json()["releases"])

    assert world.node.process is not None
    with stopped(world.node.process.pid):
        calls: list[tuple[str, Callable[[], httpx.Response]]] = [
            ("release", lambda: release(client, base, brand_auth, [customer.address])),
            ("check", lambda: client.post(f"{base}/v1/permissions/check", json=check, headers=brand_auth)),
            ("health", lambda: client.get(f"{base}/v1/health")),
            ("ready", lambda: client.get(f"{base}/v1/ready")),
        ]
        for name, call in calls * 3:
            reply, seconds = timed(call)
            assert reply.status_code == 503, f"{name}: {reply.status_code} {reply.text}"
            assert seconds < WITHIN, f"{name} took {seconds:.2f}s to answer 503"
            if name in ("release", "check"):
                assert reply.headers["content-type"].startswith("application/problem+json")
            else:
                assert reply.json()["chain"]["ok"] is False
        # Nothing was released while the chain could not answer.
        assert len(client.get(f"{base}/v1/releases", headers=brand_auth).json()["releases"]) == receipts_before

    def recovered() -> bool:
        return release(client, base, brand_auth, [customer.address]).status_code == 200

    wait_for("releases to work again after SIGCONT", recovered, 15, poll=0.2, detail=cluster.logs)
    reply = client.post(f"{base}/v1/permissions/check", json=check, headers=brand_auth)
    assert reply.json()["answers"] == [True]
    assert client.get(f"{base}/v1/health").status_code == 200
    assert client.get(f"{base}/v1/ready").status_code == 200
