"""The relayer under real faults, through real `consent-ledger serve` processes on a real anvil and a
real PostgreSQL: a batch held pending past every timeout (with and without a restart), and a
relayer account without funds."""

from __future__ import annotations

import json

import httpx
import pytest
from eth_account import Account
from fault_support import (
    Cluster,
    describe,
    grant,
    grant_rejections,
    granted_per_nonce,
    rows,
    sign_in,
    statuses,
    wait_for,
)

pytestmark = [pytest.mark.chain, pytest.mark.timeout(240)]


def _grants(cluster: Cluster, base: str, brand: str, count: int) -> dict[str, int]:
    accepted = {}
    with httpx.Client(timeout=15) as client:
        for _ in range(count):
            account = Account.create()
            accepted[account.address] = int(grant(client, base, account, brand)["id"])
    return accepted


def _relay_txs(world) -> list:
    return rows(
        world.engine,
        "SELECT id, nonce, state, hashes, mined_hash, sends FROM sent_transactions WHERE purpose = 'relay' ORDER BY id",
    )


def test_a_batch_pending_past_every_timeout_is_sent_once_and_confirmed_once(world, cluster: Cluster) -> None:
    rpc, engine = world.node.rpc, world.engine
    first = cluster.start("one", CONSENT_RELAYER_REPLACE_AFTER="1")
    cluster.wait_ready([first])
    brand = world.brand.address

    # Without a restart: the node mines nothing while the batch waits (replaced a few times).
    rpc.request("evm_setAutomine", [False])
    batch_a = _grants(cluster, first.url, brand, 4)
    wait_for(
        "the batch to be sent", lambda: statuses(engine).get("submitted") == 4, 60, detail=lambda: describe(engine)
    )
    wait_for(
        "replacements of the pending batch",
        lambda: any(len(json.loads(r.hashes)) >= 4 for r in _relay_txs(world)),
        60,
        detail=lambda: describe(engine),
    )
    rpc.request("evm_mine", [])
    rpc.request("evm_setAutomine", [True])
    wait_for("batch A confirmed", lambda: statuses(engine).get("confirmed") == 4, 60, detail=lambda: describe(engine))

    # With a restart while it is pending: the process dies, a new one takes the batch over.
    rpc.request("evm_setAutomine", [False])
    batch_b = _grants(cluster, first.url, brand, 3)
    wait_for("batch B sent", lambda: statuses(engine).get("submitted") == 3, 60, detail=lambda: describe(engine))
    first.kill()
    second = cluster.start("two", CONSENT_RELAYER_REPLACE_AFTER="1")
    cluster.wait_ready([second])
    wait_for(
        "the new process to speed the batch up",
        lambda: any(r.state == "pending" and len(json.loads(r.hashes)) >= 2 for r in _relay_txs(world)),
        60,
        detail=lambda: describe(engine),
    )
    rpc.request("evm_mine", [])
    rpc.request("evm_setAutomine", [True])
    wait_for("batch B confirmed", lambda: statuses(engine).get("confirmed") == 7, 60, detail=lambda: describe(engine))

    # Each batch transaction kept its one nonce through every replacement and the restart, and was mined once.
    txs = _relay_txs(world)
    assert {(t.state, t.mined_hash in json.loads(t.hashes)) for t in txs} == {("mined", True)}
    assert len({t.nonce for t in txs}) == len(txs)
    granted = granted_per_nonce(rpc, world.deployment.address, world.deployment.deploy_block)
    assert {c: n for (c, _b, _nonce), n in granted.items()} == dict.fromkeys([*batch_a, *batch_b], 1)
    assert grant_rejections(rpc, world.deployment.address, world.deployment.deploy_block) == []
    with httpx.Client(timeout=15) as client:
        account_rows = rows(world.engine, "SELECT customer, status, tx_hash FROM outbox")
        assert {r.status for r in account_rows} == {"confirmed"}
        assert {r.tx_hash for r in account_rows} == {t.mined_hash for t in txs}
        assert client.get(f"{second.url}/v1/health").status_code == 200


def test_an_unfunded_relayer_waits_with_a_reason_and_completes_once_funded(world, cluster: Cluster) -> None:
    rpc, engine = world.node.rpc, world.engine
    relayer = Account.from_key(world.env()["CONSENT_RELAYER_KEY"]).address
    rpc.request("anvil_setBalance", [relayer, "0x0"])
    replica = cluster.start("one", CONSENT_RELAYER_MAX_BACKOFF="0.2")
    cluster.wait_ready([replica])
    customer = Account.create()
    with httpx.Client(timeout=15) as client:
        submission = grant(client, replica.url, customer, world.brand.address)
        auth = sign_in(client, replica.url, customer)

        def seen() -> dict:
            return client.get(f"{replica.url}/v1/me/submissions/{submission['id']}", headers=auth).json()

        attempts = lambda: rows(engine, "SELECT attempts FROM outbox")[0].attempts  # noqa: E731
        wait_for(
            "attempts past the old give-up point (8)", lambda: attempts() > 10, 60, detail=lambda: describe(engine)
        )
        waiting = seen()
        assert (waiting["status"], waiting["reason"]) == ("accepted", "relayer account has insufficient funds")
        assert rows(engine, "SELECT count(*) AS n FROM sent_transactions")[0].n == 0

        rpc.request("anvil_setBalance", [relayer, hex(10**19)])
        wait_for("confirmed once funded", lambda: seen()["status"] == "confirmed", 60, detail=lambda: describe(engine))
        assert seen()["reason"] is None
    granted = granted_per_nonce(rpc, world.deployment.address, world.deployment.deploy_block)
    assert list(granted.values()) == [1]
