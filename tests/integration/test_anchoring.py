"""Anchoring through node faults: an anchor whose block left the chain is not kept (its transaction goes
out again and it is stored again once mined), and a lost anchor transaction never stalls the key."""

from __future__ import annotations

import time

import pytest

from api_support import release_to, with_a_grant

pytestmark = pytest.mark.chain


def _onchain_size(api) -> int:
    return api.context.ledger.latest_anchor(api.context.anchorer.custodian)[1]


def test_an_anchor_whose_block_left_the_chain_is_sent_again(api, chain) -> None:
    _brand, brand_auth, customer, _auth = with_a_grant(api)
    release_to(api, brand_auth, customer.address)
    snapshot = chain.rpc.request("evm_snapshot")
    first = api.context.anchorer.anchor_now()
    assert first is not None
    assert first.size == 1
    assert chain.rpc.request("evm_revert", [snapshot]) is True  # the node restarts from an older state
    chain.rpc.request("evm_mine", [])
    assert _onchain_size(api) == 0
    anchorer, log = api.context.anchorer, api.context.access_log
    assert anchorer.recheck() == 1  # the stored anchor named a block the chain no longer has
    assert log.latest_anchor() is None
    stored = anchorer.follow()  # its transaction went out again under its own nonce and was mined
    assert [a.size for a in stored] == [1]
    assert stored[0].tx_hash == first.tx_hash
    assert _onchain_size(api) == 1
    header = chain.rpc.get_block(stored[0].block_number)
    assert header["hash"] == stored[0].block_hash
    release_to(api, brand_auth, customer.address)
    second = anchorer.anchor_now()  # the key is not stalled
    assert second is not None
    assert second.size == 2
    assert "0x" + api.context.ledger.root_at(anchorer.custodian, 2).hex() == second.root


def test_a_lost_anchor_transaction_does_not_stall_anchoring(api, chain) -> None:
    _brand, brand_auth, customer, _auth = with_a_grant(api)
    release_to(api, brand_auth, customer.address)
    anchorer = api.context.anchorer
    anchorer.every_leaves = 1
    chain.rpc.request("evm_setAutomine", [False])
    try:
        assert anchorer.run_once() is None  # sent, pending
        chain.rpc.request("anvil_dropAllTransactions", [])  # and lost with the node's mempool
    finally:
        chain.rpc.request("evm_setAutomine", [True])
    release_to(api, brand_auth, customer.address)
    deadline = time.monotonic() + 20
    while api.context.access_log.latest_anchor() is None and time.monotonic() < deadline:
        anchorer.run_once()  # re-broadcasts the lost one (same nonce) after a few seconds
        time.sleep(0.2)
    assert api.context.access_log.latest_anchor() is not None
    latest = anchorer.anchor_now()
    head = api.context.access_log.latest_anchor()
    assert head is not None
    assert head.size == 2
    assert latest is None or latest.size == 2
    assert _onchain_size(api) == 2
