"""Outbox + worker against a real anvil and real databases (SQLite and PostgreSQL).

Nothing accepted is lost, nothing is sent twice, and a crash at any point settles every row
exactly once.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from consent_ledger.chain.devnet import free_port
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.chain.tx import TxSender
from consent_ledger.db.base import utc_now
from consent_ledger.db.engine import make_session_factory
from consent_ledger.domain import RevokeRequest
from consent_ledger.errors import ConflictError
from consent_ledger.relayer.items import Kind
from consent_ledger.relayer.models import OutboxItem
from consent_ledger.relayer.outbox import Outbox
from consent_ledger.relayer.submitter import Submitter
from consent_ledger.relayer.worker import RelayerWorker
from support import DAY, grant_request, new_account, sign_grant, sign_revoke

pytestmark = pytest.mark.chain


class Clock:
    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outbox(engine: Engine, clock: Clock) -> Outbox:
    return Outbox(make_session_factory(engine), clock)


def _worker(outbox: Outbox, ledger: Ledger, relayer: TxSender, chain, batch_size: int = 50) -> RelayerWorker:
    return RelayerWorker(outbox, ledger, Submitter(ledger, relayer), chain.deployment.deploy_block, batch_size)


def _accept_grants(outbox: Outbox, ledger: Ledger, chain, brand: str, count: int):
    customers = [new_account() for _ in range(count)]
    ids = []
    for customer in customers:
        request = grant_request(customer.address, brand, chain.now())
        submission, created = outbox.enqueue(Kind.GRANT, request, sign_grant(ledger, customer, request))
        assert created
        ids.append(submission.id)
    return customers, ids


def test_enqueue_is_idempotent_and_refuses_a_second_message_for_a_nonce(chain, ledger: Ledger, outbox: Outbox) -> None:
    customer, brand = new_account(), new_account().address
    request = grant_request(customer.address, brand, chain.now())
    signature = sign_grant(ledger, customer, request)
    first, created = outbox.enqueue(Kind.GRANT, request, signature)
    again, created_again = outbox.enqueue(Kind.GRANT, request, signature)
    assert created
    assert not created_again
    assert again.id == first.id
    assert again.status == "accepted"
    other = grant_request(customer.address, brand, chain.now(), categories=0b1)
    with pytest.raises(ConflictError, match="nonce 0"):
        outbox.enqueue(Kind.GRANT, other, sign_grant(ledger, customer, other))
    assert outbox.has_pending(customer.address, brand)


def test_worker_confirms_grants_and_revocations(chain, ledger: Ledger, relayer: TxSender, outbox: Outbox) -> None:
    brand = new_account().address
    customers, ids = _accept_grants(outbox, ledger, chain, brand, 7)
    worker = _worker(outbox, ledger, relayer, chain, batch_size=5)
    worker.drain()
    statuses = [outbox.get(i) for i in ids]
    assert [s.status for s in statuses] == ["confirmed"] * 7
    assert len({s.tx_hash for s in statuses}) == 2  # two batches of at most 5
    assert all(ledger.is_allowed(c.address, brand, 0b111, 0b11) for c in customers)

    revoke = RevokeRequest(customers[0].address, brand, 1, chain.now() + DAY)
    submission, _ = outbox.enqueue(Kind.REVOKE, revoke, sign_revoke(ledger, customers[0], revoke))
    worker.drain()
    assert outbox.get(submission.id).status == "confirmed"
    assert not ledger.is_allowed(customers[0].address, brand, 1, 1)


def test_rejections_carry_the_contracts_reason(chain, ledger: Ledger, relayer: TxSender, outbox: Outbox) -> None:
    customer, brand = new_account(), new_account().address
    request = grant_request(customer.address, brand, chain.now(), deadline_in=30)
    submission, _ = outbox.enqueue(Kind.GRANT, request, sign_grant(ledger, customer, request))
    chain.travel(60)  # the signature's deadline passes while it waits
    _worker(outbox, ledger, relayer, chain).drain()
    settled = outbox.get(submission.id)
    assert (settled.status, settled.reason) == ("rejected", "signature_expired")


def test_crash_after_sending_settles_exactly_once(
    chain, ledger: Ledger, relayer: TxSender, outbox: Outbox, clock: Clock, engine: Engine
) -> None:
    brand = new_account().address
    _customers, ids = _accept_grants(outbox, ledger, chain, brand, 4)
    # The worker marks the rows submitted and sends the batch, then dies before recording anything.
    items = outbox.due(10)
    outbox.mark_submitted(ids)
    landed = Submitter(ledger, relayer).submit(items)
    assert all(o.status.value == "confirmed" for o in landed)
    assert [outbox.get(i).status for i in ids] == ["submitted"] * 4
    blocks_before = chain.rpc.block_number()

    clock.advance(60)  # a fresh worker later finds them unsettled
    _worker(outbox, ledger, relayer, chain).drain()
    settled = [outbox.get(i) for i in ids]
    assert [s.status for s in settled] == ["confirmed"] * 4
    assert {s.tx_hash for s in settled} == {landed[0].tx_hash}  # the original transaction, not a new one
    assert chain.rpc.block_number() == blocks_before  # nothing was sent again
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(OutboxItem)) == 4


def test_stop_mid_batch_then_restart(chain, ledger: Ledger, relayer: TxSender, outbox: Outbox, clock: Clock) -> None:
    brand = new_account().address
    _, ids = _accept_grants(outbox, ledger, chain, brand, 6)
    first = _worker(outbox, ledger, relayer, chain, batch_size=3)
    assert first.run_once() == 3  # one batch done, then the process stops
    later = [new_account() for _ in range(2)]
    for customer in later:  # more arrive while it is down
        request = grant_request(customer.address, brand, chain.now())
        ids.append(outbox.enqueue(Kind.GRANT, request, sign_grant(ledger, customer, request))[0].id)
    clock.advance(60)
    _worker(outbox, ledger, relayer, chain, batch_size=3).drain()
    assert [outbox.get(i).status for i in ids] == ["confirmed"] * 8


def test_superseded_by_a_direct_revoke(chain, ledger: Ledger, relayer: TxSender, outbox: Outbox) -> None:
    customer, brand = new_account(), new_account().address
    request = grant_request(customer.address, brand, chain.now())
    submission, _ = outbox.enqueue(Kind.GRANT, request, sign_grant(ledger, customer, request))
    chain.fund(customer.address)
    ledger.revoke(ledger.sender(customer.key), brand)  # the customer changed their mind, from the wallet
    _worker(outbox, ledger, relayer, chain).drain()
    settled = outbox.get(submission.id)
    assert (settled.status, settled.reason) == ("rejected", "superseded by a revocation")
    assert not ledger.is_allowed(customer.address, brand, 1, 1)


def test_chain_down_backs_off_then_recovers(
    chain, ledger: Ledger, relayer: TxSender, outbox: Outbox, clock: Clock
) -> None:
    brand = new_account().address
    _, ids = _accept_grants(outbox, ledger, chain, brand, 2)
    dead = Ledger(
        RpcClient(f"http://127.0.0.1:{free_port()}", timeout=1), ledger.address, chain.artifacts["ConsentLedger"].abi
    )
    down = RelayerWorker(outbox, dead, Submitter(dead, dead.sender(relayer.account.key)), 0)
    assert down.run_once() == 0
    assert [outbox.get(i).status for i in ids] == ["accepted"] * 2
    assert outbox.due(10) == []  # backing off
    clock.advance(5)
    _worker(outbox, ledger, relayer, chain).drain()
    assert [outbox.get(i).status for i in ids] == ["confirmed"] * 2


def test_a_confirmation_the_chain_dropped_is_relayed_again(
    chain, ledger: Ledger, relayer: TxSender, outbox: Outbox
) -> None:
    customer, brand = new_account(), new_account().address
    snapshot = chain.rpc.request("evm_snapshot")
    request = grant_request(customer.address, brand, chain.now())
    submission, _ = outbox.enqueue(Kind.GRANT, request, sign_grant(ledger, customer, request))
    worker = _worker(outbox, ledger, relayer, chain)
    worker.drain()
    first = outbox.get(submission.id)
    assert first.status == "confirmed"
    # The node restarts from an older state file: the confirming block is gone.
    assert chain.rpc.request("evm_revert", [snapshot]) is True
    chain.rpc.request("evm_mine", [])
    assert not ledger.is_allowed(customer.address, brand, 1, 1)
    assert worker.recheck_confirmations() == 1  # (it also resyncs the relayer's account nonce)
    requeued = outbox.get(submission.id)
    assert requeued.status == "accepted"
    assert "left the chain" in (requeued.reason or "")
    worker.drain()
    again = outbox.get(submission.id)
    assert again.status == "confirmed"
    assert again.tx_hash != first.tx_hash or again.block_number != first.block_number
    assert ledger.is_allowed(customer.address, brand, 1, 1)
    assert worker.recheck_confirmations() == 0  # settled for good
