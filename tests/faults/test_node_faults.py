"""anvil SIGKILLed under load, right after an anchor, and restarted from its state file: the blocks after
the last state write are gone (with the confirmations and the anchor they held). Rows whose
confirmations vanished are sent again and confirmed on the new chain, the vanished anchor is not
kept, anchoring resumes, and every stored confirmation and anchor names a block the chain has."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from fault_support import (
    Cluster,
    Load,
    describe,
    grant_rejections,
    granted_per_nonce,
    release,
    rows,
    sign_in,
    statuses,
    wait_for,
)

pytestmark = [pytest.mark.chain, pytest.mark.timeout(420)]

ANCHOR_INTERVAL = 1.0


def _anchors_above(engine, block: int) -> list:
    return rows(engine, "SELECT size, block_number, block_hash FROM log_anchors WHERE block_number > :b", b=block)


def _confirmed_above(engine, block: int) -> list:
    return rows(
        engine,
        "SELECT id, block_number, block_hash FROM outbox WHERE status = 'confirmed' AND block_number > :b",
        b=block,
    )


def _canonical(rpc, number: int, block_hash: str) -> bool:
    try:
        return rpc.get_block(number)["hash"] == block_hash
    except Exception:
        return False


def test_node_killed_under_load_right_after_an_anchor(world, cluster: Cluster) -> None:
    engine, node, deployment = world.engine, world.node, world.deployment
    replica = cluster.start("one", CONSENT_ANCHOR_EVERY_SECONDS=str(ANCHOR_INTERVAL))
    cluster.wait_ready([replica])
    load = Load(cluster, world.brand.address, threads=2)
    stop = threading.Event()

    def read() -> None:  # a brand releasing confirmed customers' data: leaves to anchor
        with httpx.Client(timeout=15) as client:
            auth = None
            while not stop.is_set():
                confirmed = [r.customer for r in rows(engine, "SELECT customer FROM outbox WHERE status = 'confirmed'")]
                try:
                    auth = auth or sign_in(client, replica.url, world.brand)
                    if confirmed:
                        release(client, replica.url, auth, confirmed[-3:])
                except httpx.HTTPError:
                    pass  # the node is down: 503s, retried
                time.sleep(0.1)

    granting = threading.Thread(target=load.run, args=(60,), daemon=True)
    reading = threading.Thread(target=read, daemon=True)
    granting.start()
    reading.start()
    vanished_rows: list = []
    vanished_anchors: list = []
    resumed: list[float] = []
    try:
        for _round in range(2):
            wait_for("grants confirmed and an anchor", lambda: bool(rows(engine, "SELECT 1 FROM log_anchors")), 60)
            saved = node.save_state()  # anvil's last state write before the crash
            wait_for(
                "confirmations and an anchor after the state write",
                lambda s=saved: len(_confirmed_above(engine, s)) >= 2 and bool(_anchors_above(engine, s)),
                60,
                poll=0.01,
                detail=lambda: describe(engine),
            )
            node.kill()  # right after that anchor was stored, under load
            gone_rows, gone_anchors = _confirmed_above(engine, saved), _anchors_above(engine, saved)
            # Restarted with mining paused: the replica re-sends the lost transactions at once, and re-mined
            # within the same second they could give bit-identical blocks, as if nothing had been lost.
            node.start(from_state=True, paused=True)
            restarted = time.monotonic()
            # The blocks after the state write are gone, and with them those confirmations and that anchor.
            assert not any(_canonical(node.rpc, r.block_number, r.block_hash) for r in gone_rows + gone_anchors)
            node.resume_mining()
            vanished_rows += gone_rows
            vanished_anchors += gone_anchors

            def anchored_again(s: int = saved) -> bool:
                return any(_canonical(node.rpc, a.block_number, a.block_hash) for a in _anchors_above(engine, s))

            wait_for("anchoring to resume", anchored_again, 30, detail=lambda: describe(engine) + cluster.logs())
            resumed.append(time.monotonic() - restarted)
        granting.join(180)
        assert not granting.is_alive()
        wait_for(
            "every accepted submission to settle",
            lambda: (
                statuses(engine) == {"confirmed": len(load.accepted)}
                and not rows(engine, "SELECT 1 FROM sent_transactions WHERE state = 'pending'")
            ),
            120,
            detail=lambda: describe(engine) + cluster.logs(),
        )
    finally:
        stop.set()
        reading.join(30)

    rpc = node.rpc
    assert vanished_rows
    assert vanished_anchors
    # Rows whose confirmations vanished were sent again: confirmed now, in blocks the chain has.
    final = {r.id: r for r in rows(engine, "SELECT id, status, block_number, block_hash FROM outbox")}
    for gone in vanished_rows:
        row = final[gone.id]
        assert row.status == "confirmed"
        assert _canonical(rpc, row.block_number, row.block_hash)
    assert all(_canonical(rpc, r.block_number, r.block_hash) for r in final.values())
    granted = granted_per_nonce(rpc, deployment.address, deployment.deploy_block)
    assert {customer: n for (customer, _brand, _nonce), n in granted.items()} == dict.fromkeys(load.accepted, 1)
    assert grant_rejections(rpc, deployment.address, deployment.deploy_block) == []
    # No stored anchor names a block that is gone; each one's root is the one on-chain.
    for anchor in rows(engine, "SELECT size, root, custodian, block_number, block_hash FROM log_anchors"):
        assert _canonical(rpc, anchor.block_number, anchor.block_hash)
        assert "0x" + world.ledger.root_at(anchor.custodian, anchor.size).hex() == anchor.root
    print(
        f"\nnode restarts: {len(vanished_rows)} confirmations and {len(vanished_anchors)} anchors vanished, "
        f"all re-sent; anchoring resumed {', '.join(f'{s:.1f}s' for s in resumed)} after each restart "
        f"(interval {ANCHOR_INTERVAL:g}s)"
    )
