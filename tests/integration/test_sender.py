"""The durable sender against a real anvil and both databases: nonces allocated once across senders,
numbered from the chain after someone else used the key, lost transactions broadcast again, stuck
ones replaced under the same nonce, transactions whose block left the chain sent again, refusals
(no funds) recorded and retried."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, select

from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.tx import TxSender
from consent_ledger.db.engine import make_session_factory
from consent_ledger.sender.durable import DurableSender
from consent_ledger.sender.models import SentTransaction
from consent_ledger.sender.refusals import NO_FUNDS
from support import ManualClock, new_account

pytestmark = pytest.mark.chain

ROOT = bytes.fromhex("ab" * 32)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def no_automine(chain):
    chain.rpc.request("evm_setAutomine", [False])
    try:
        yield
    finally:
        chain.rpc.request("evm_setAutomine", [True])


def _sender(engine: Engine, signer: TxSender, clock: ManualClock, purpose: str = "anchor", **options) -> DurableSender:
    return DurableSender(signer, make_session_factory(engine), purpose, clock=clock, **options)


def _anchor(ledger: Ledger, sender: DurableSender, size: int):
    return sender.send(ledger.address, ledger.anchor_call(ROOT, size), 120_000)


def _rows(engine: Engine) -> list[SentTransaction]:
    with make_session_factory(engine)() as session:
        return list(session.scalars(select(SentTransaction).order_by(SentTransaction.nonce)))


def test_nonces_are_taken_once_and_follow_the_chain(
    chain, ledger: Ledger, relayer: TxSender, engine: Engine, clock: ManualClock
) -> None:
    start = relayer.chain_nonce()
    relay = _sender(engine, relayer, clock, "relay")
    anchors = _sender(engine, ledger.sender(relayer.account.key), clock, "anchor")  # another process, same key
    first = _anchor(ledger, anchors, 1)
    second = relay.send(ledger.address, ledger.anchor_call(ROOT, 2), 120_000)
    assert (first.nonce, second.nonce) == (start, start + 1)
    # Someone else sends from the key (a direct `consent-ledger` command): the next nonce follows the chain.
    ledger.anchor(ledger.sender(relayer.account.key), ROOT, 3)
    third = _anchor(ledger, anchors, 4)
    assert third.nonce == start + 3
    landed = anchors.poll().landed + relay.poll().landed
    assert sorted(t.tx.nonce for t in landed) == [start, start + 1, start + 3]
    assert all(t.receipt is not None and t.receipt.status == 1 for t in landed)
    assert ledger.latest_anchor(relayer.address)[1] == 4


def test_a_transaction_the_node_lost_is_broadcast_again(
    chain, ledger: Ledger, relayer: TxSender, engine: Engine, clock: ManualClock, no_automine
) -> None:
    sender = _sender(engine, relayer, clock)
    sent = _anchor(ledger, sender, 1)
    chain.rpc.request("anvil_dropAllTransactions", [])  # a node restart empties its mempool
    chain.rpc.request("evm_mine", [])
    assert sender.poll().waiting[0].id == sent.id  # not mined, nonce still open: waiting
    clock.advance(5)
    sender.poll()  # re-broadcast (same signed transaction)
    chain.rpc.request("evm_mine", [])
    (landed,) = sender.poll().landed
    assert landed.receipt is not None
    assert landed.receipt.tx_hash == sent.tx_hash
    assert ledger.latest_anchor(relayer.address)[1] == 1


def test_a_stuck_transaction_is_replaced_under_its_own_nonce(
    chain, ledger: Ledger, relayer: TxSender, engine: Engine, clock: ManualClock, no_automine
) -> None:
    sender = _sender(engine, relayer, clock, replace_after=20)
    sent = _anchor(ledger, sender, 1)
    clock.advance(21)
    sender.poll()
    clock.advance(21)
    sender.poll()
    (row,) = _rows(engine)
    hashes = json.loads(row.hashes)
    assert len(hashes) == 3
    assert row.nonce == sent.nonce
    assert int(row.max_fee) > 0
    chain.rpc.request("evm_mine", [])
    (landed,) = sender.poll().landed
    assert landed.receipt is not None
    assert landed.receipt.tx_hash == hashes[-1]  # the node kept the highest bid; the call ran once
    assert relayer.chain_nonce() == sent.nonce + 1


def test_a_nonce_used_by_a_transaction_we_never_sent_drops_ours(
    chain, ledger: Ledger, relayer: TxSender, engine: Engine, clock: ManualClock, no_automine
) -> None:
    sender = _sender(engine, relayer, clock)
    sent = _anchor(ledger, sender, 1)
    chain.rpc.request("anvil_dropAllTransactions", [])
    stranger = ledger.sender(relayer.account.key)  # the key used elsewhere, for another call
    stranger.send(ledger.address, ledger.anchor_call(bytes.fromhex("cd" * 32), 7), 120_000)
    chain.rpc.request("evm_mine", [])
    (landed,) = sender.poll().landed
    assert landed.receipt is None  # what it carried did not land
    assert landed.tx.id == sent.id
    assert [r.state for r in _rows(engine)] == ["dropped"]


def test_a_mined_transaction_whose_block_left_the_chain_goes_out_again(
    chain, ledger: Ledger, relayer: TxSender, engine: Engine, clock: ManualClock
) -> None:
    sender = _sender(engine, relayer, clock)
    snapshot = chain.rpc.request("evm_snapshot")
    sent = _anchor(ledger, sender, 1)
    (first,) = sender.poll().landed
    assert first.receipt is not None
    assert chain.rpc.request("evm_revert", [snapshot]) is True  # the node restarts from an older state
    chain.rpc.request("evm_mine", [])
    (moved,) = sender.recheck_mined()
    assert moved.receipt is None  # back to pending, and already broadcast again
    (again,) = sender.poll().landed
    assert again.receipt is not None
    assert again.receipt.tx_hash == sent.tx_hash
    assert sender.recheck_mined() == []
    assert ledger.latest_anchor(relayer.address)[1] == 1


def test_a_refused_broadcast_is_recorded_and_retried(
    chain, ledger: Ledger, relayer: TxSender, engine: Engine, clock: ManualClock
) -> None:
    sender = _sender(engine, relayer, clock)
    chain.fund(relayer.address, 0)
    sent = _anchor(ledger, sender, 1)
    (waiting,) = sender.poll().waiting
    assert waiting.error == NO_FUNDS
    chain.fund(relayer.address, 10**19)
    clock.advance(5)
    assert sender.poll().landed == []  # broadcast again now that it can pay
    (landed,) = sender.poll().landed
    assert landed.tx.id == sent.id
    assert landed.receipt is not None
    assert landed.tx.error is None


def test_unused_account_starts_at_the_chains_count(chain, ledger: Ledger, engine: Engine, clock: ManualClock) -> None:
    account = new_account()
    chain.fund(account.address, 10**19)
    sender = _sender(engine, ledger.sender(account.key), clock)
    assert _anchor(ledger, sender, 1).nonce == 0
