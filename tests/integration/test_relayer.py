"""Outbox + worker against a real anvil and real databases (SQLite and PostgreSQL).

Nothing accepted is lost, nothing is sent twice (under a second nonce), a crash at any point settles
every row exactly once, two workers on one database never race, and every row is settled from the
chain's own event for its nonce.
"""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest
from sqlalchemy import Engine, func, select, update

from consent_ledger.chain.devnet import free_port
from consent_ledger.chain.events import GRANT_REJECTED, GRANT_TOPICS, Granted, decode_logs
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.chain.tx import TxSender
from consent_ledger.db.base import utc_now
from consent_ledger.db.engine import make_session_factory
from consent_ledger.domain import RevokeRequest
from consent_ledger.errors import ConflictError
from consent_ledger.relayer.expect import Expect
from consent_ledger.relayer.items import Kind, Outcome, Status
from consent_ledger.relayer.models import OutboxItem
from consent_ledger.relayer.outbox import Outbox
from consent_ledger.relayer.worker import RelayerWorker
from consent_ledger.sender.durable import DurableSender
from consent_ledger.sender.models import SentTransaction
from consent_ledger.sender.refusals import NO_FUNDS
from support import DAY, ManualClock, grant_request, new_account, sign_grant, sign_revoke

pytestmark = pytest.mark.chain


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def outbox(engine: Engine, clock: ManualClock) -> Outbox:
    return Outbox(make_session_factory(engine), clock)


@pytest.fixture
def no_automine(chain):
    """Blocks only when the test mines them: a sent transaction stays pending as long as it likes."""
    chain.rpc.request("evm_setAutomine", [False])
    try:
        yield
    finally:
        chain.rpc.request("evm_setAutomine", [True])


def _sender(engine: Engine, relayer: TxSender, clock: ManualClock, **options) -> DurableSender:
    return DurableSender(relayer, make_session_factory(engine), "relay", clock=clock, **options)


def _worker(
    outbox: Outbox, ledger: Ledger, sender: DurableSender, chain, batch_size: int = 50, holder: str = "one"
) -> RelayerWorker:
    return RelayerWorker(outbox, ledger, sender, chain.deployment.deploy_block, batch_size, holder=holder)


def _accept_grants(outbox: Outbox, ledger: Ledger, chain, brand: str, count: int):
    customers = [new_account() for _ in range(count)]
    ids = []
    for customer in customers:
        request = grant_request(customer.address, brand, chain.now())
        submission, created = outbox.enqueue(Kind.GRANT, request, sign_grant(ledger, customer, request))
        assert created
        ids.append(submission.id)
    return customers, ids


def _events(chain, ledger: Ledger, topic: str | list[str]) -> list:
    logs = chain.rpc.request(
        "eth_getLogs",
        [
            {
                "address": ledger.address,
                "fromBlock": hex(chain.deployment.deploy_block),
                "toBlock": "latest",
                "topics": [topic],
            }
        ],
    )
    return decode_logs(logs, ledger.address)


def _granted_per_nonce(chain, ledger: Ledger) -> Counter:
    return Counter(
        (e.customer, e.brand, e.nonce) for e in _events(chain, ledger, GRANT_TOPICS) if isinstance(e, Granted)
    )


def _sent_rows(engine: Engine) -> list[SentTransaction]:
    with make_session_factory(engine)() as session:
        return list(session.scalars(select(SentTransaction).order_by(SentTransaction.nonce)))


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


def test_worker_confirms_grants_and_revocations(
    chain, ledger: Ledger, relayer: TxSender, outbox: Outbox, engine: Engine, clock: ManualClock
) -> None:
    brand = new_account().address
    customers, ids = _accept_grants(outbox, ledger, chain, brand, 7)
    worker = _worker(outbox, ledger, _sender(engine, relayer, clock), chain, batch_size=5)
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
    assert [r.state for r in _sent_rows(engine)] == ["mined"] * 3


def test_rejections_carry_the_contracts_reason(
    chain, ledger: Ledger, relayer: TxSender, outbox: Outbox, engine: Engine, clock: ManualClock
) -> None:
    customer, brand = new_account(), new_account().address
    request = grant_request(customer.address, brand, chain.now(), deadline_in=30)
    submission, _ = outbox.enqueue(Kind.GRANT, request, sign_grant(ledger, customer, request))
    chain.travel(60)  # the signature's deadline passes while it waits
    _worker(outbox, ledger, _sender(engine, relayer, clock), chain).drain()
    settled = outbox.get(submission.id)
    assert (settled.status, settled.reason) == ("rejected", "signature_expired")


def test_crash_after_sending_settles_exactly_once(
    chain, ledger: Ledger, relayer: TxSender, outbox: Outbox, clock: ManualClock, engine: Engine
) -> None:
    brand = new_account().address
    _customers, ids = _accept_grants(outbox, ledger, chain, brand, 4)
    # The worker claims the rows, records and sends the batch, then dies before looking at the receipt.
    first = _worker(outbox, ledger, _sender(engine, relayer, clock), chain, holder="first")
    assert first.process_due() == 4
    assert [outbox.get(i).status for i in ids] == ["submitted"] * 4
    (sent,) = _sent_rows(engine)
    blocks_before = chain.rpc.block_number()

    clock.advance(60)  # a fresh worker (another process: its own sender) finds them in flight
    later = _worker(outbox, ledger, _sender(engine, ledger.sender(relayer.account.key), clock), chain, holder="later")
    later.drain()
    settled = [outbox.get(i) for i in ids]
    assert [s.status for s in settled] == ["confirmed"] * 4
    assert {s.tx_hash for s in settled} == {sent.tx_hash}  # the original transaction, not a new one
    assert chain.rpc.block_number() == blocks_before  # nothing was sent again
    assert len(_sent_rows(engine)) == 1
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(OutboxItem)) == 4


def test_stop_mid_batch_then_restart(
    chain, ledger: Ledger, relayer: TxSender, outbox: Outbox, clock: ManualClock, engine: Engine
) -> None:
    brand = new_account().address
    _, ids = _accept_grants(outbox, ledger, chain, brand, 6)
    first = _worker(outbox, ledger, _sender(engine, relayer, clock), chain, batch_size=3)
    assert first.process_due() == 3  # one batch out, then the process stops
    later = [new_account() for _ in range(2)]
    for customer in later:  # more arrive while it is down
        request = grant_request(customer.address, brand, chain.now())
        ids.append(outbox.enqueue(Kind.GRANT, request, sign_grant(ledger, customer, request))[0].id)
    clock.advance(60)
    _worker(outbox, ledger, _sender(engine, relayer, clock), chain, batch_size=3, holder="two").drain()
    assert [outbox.get(i).status for i in ids] == ["confirmed"] * 8
    assert set(_granted_per_nonce(chain, ledger).values()) == {1}


def test_superseded_by_a_direct_revoke(
    chain, ledger: Ledger, relayer: TxSender, outbox: Outbox, engine: Engine, clock: ManualClock
) -> None:
    customer, brand = new_account(), new_account().address
    request = grant_request(customer.address, brand, chain.now())
    submission, _ = outbox.enqueue(Kind.GRANT, request, sign_grant(ledger, customer, request))
    chain.fund(customer.address)
    ledger.revoke(ledger.sender(customer.key), brand)  # the customer changed their mind, from the wallet
    _worker(outbox, ledger, _sender(engine, relayer, clock), chain).drain()
    settled = outbox.get(submission.id)
    assert (settled.status, settled.reason) == ("rejected", "superseded by a revocation")
    assert not ledger.is_allowed(customer.address, brand, 1, 1)


def test_chain_down_waits_with_a_reason_then_recovers(
    chain, ledger: Ledger, relayer: TxSender, outbox: Outbox, clock: ManualClock, engine: Engine
) -> None:
    brand = new_account().address
    _, ids = _accept_grants(outbox, ledger, chain, brand, 2)
    dead = Ledger(
        RpcClient(f"http://127.0.0.1:{free_port()}", timeout=1), ledger.address, chain.artifacts["ConsentLedger"].abi
    )
    down = RelayerWorker(outbox, dead, _sender(engine, dead.sender(relayer.account.key), clock), 0)
    for _ in range(10):  # past the old give-up point (8 attempts): still waiting, never rejected
        assert down.run_once() == 0
        clock.advance(60)
    waiting = [outbox.get(i) for i in ids]
    assert [(w.status, w.reason) for w in waiting] == [("accepted", "waiting: the chain node is not answering")] * 2
    _worker(outbox, ledger, _sender(engine, relayer, clock), chain).drain()
    assert [(outbox.get(i).status, outbox.get(i).reason) for i in ids] == [("confirmed", None)] * 2


def test_an_unfunded_relayer_waits_with_a_reason_and_completes_once_funded(
    chain, ledger: Ledger, relayer: TxSender, outbox: Outbox, clock: ManualClock, engine: Engine
) -> None:
    brand = new_account().address
    _, ids = _accept_grants(outbox, ledger, chain, brand, 3)
    chain.fund(relayer.address, 0)
    worker = _worker(outbox, ledger, _sender(engine, relayer, clock), chain)
    for _ in range(12):  # well past the old 8-attempt give-up
        worker.run_once()
        clock.advance(60)
    rows = [outbox.get(i) for i in ids]
    assert [(r.status, r.reason) for r in rows] == [("accepted", NO_FUNDS)] * 3
    assert _sent_rows(engine) == []  # nothing was signed that could not be paid for
    chain.fund(relayer.address, 10**19)
    worker.drain()
    assert [(outbox.get(i).status, outbox.get(i).reason) for i in ids] == [("confirmed", None)] * 3


def test_two_workers_on_one_database_never_race(
    chain, ledger: Ledger, relayer: TxSender, outbox: Outbox, engine: Engine
) -> None:
    """Two relayers (own sender objects, one key, one database) drain at the same time: each row is
    claimed by one of them, every nonce is taken once, every grant lands once, none is rejected."""
    brand = new_account().address
    _, ids = _accept_grants(outbox, ledger, chain, brand, 30)
    start = chain.rpc.block_number()
    workers = [  # real clocks: the two run concurrently
        _worker(
            Outbox(make_session_factory(engine)),
            ledger,
            _sender(engine, ledger.sender(relayer.account.key), utc_now),
            chain,
            4,
            f"w{n}",
        )
        for n in range(2)
    ]
    threads = [threading.Thread(target=w.drain, kwargs={"timeout": 90}) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert [outbox.get(i).status for i in ids] == ["confirmed"] * 30
    granted = _granted_per_nonce(chain, ledger)
    assert sum(granted.values()) == 30
    assert set(granted.values()) == {1}
    rejected = [e for e in _events(chain, ledger, GRANT_REJECTED) if e.at.block_number > start]
    assert rejected == []
    nonces = [r.nonce for r in _sent_rows(engine)]
    assert len(nonces) == len(set(nonces))


def test_claims_are_exclusive_until_they_lapse(chain, ledger: Ledger, outbox: Outbox, clock: ManualClock) -> None:
    _, ids = _accept_grants(outbox, ledger, chain, new_account().address, 5)
    first = outbox.claim("a", 3)
    second = outbox.claim("b", 10)
    assert [i.id for i in first] == ids[:3]
    assert [i.id for i in second] == ids[3:]
    assert outbox.claim("c", 10) == []
    clock.advance(61)  # "a" and "b" died holding their rows: the claims lapse
    assert [i.id for i in outbox.claim("c", 10)] == ids


def test_a_transition_that_expects_another_state_changes_nothing(
    chain, ledger: Ledger, relayer: TxSender, outbox: Outbox, engine: Engine, clock: ManualClock
) -> None:
    _, (row,) = _accept_grants(outbox, ledger, chain, new_account().address, 1)
    _worker(outbox, ledger, _sender(engine, relayer, clock), chain).drain()
    confirmed = outbox.get(row)
    assert confirmed.status == "confirmed"
    stale = Outcome(row, Status.REJECTED, "0x" + "11" * 32, 1, "0x" + "22" * 32, "invalid_nonce")
    assert outbox.settle([stale], Expect(Status.SUBMITTED)) == 0  # a late worker's verdict
    assert outbox.requeue([row], "late", Expect(Status.ACCEPTED)) == 0
    assert outbox.get(row) == confirmed


def test_a_pending_transaction_is_waited_for_and_sped_up_never_sent_twice(
    chain, ledger: Ledger, relayer: TxSender, outbox: Outbox, engine: Engine, clock: ManualClock, no_automine
) -> None:
    brand = new_account().address
    _, ids = _accept_grants(outbox, ledger, chain, brand, 3)
    worker = _worker(outbox, ledger, _sender(engine, relayer, clock, replace_after=30), chain)
    assert worker.process_due() == 3
    for _ in range(3):  # pending past every timeout: replaced with the same nonce, higher fees
        clock.advance(31)
        worker.run_once()
    (sent,) = _sent_rows(engine)
    assert len(json.loads(sent.hashes)) == 4  # the original and three replacements, one nonce
    # The process restarts while it is still pending: the new one waits too.
    clock.advance(31)
    again = _worker(outbox, ledger, _sender(engine, ledger.sender(relayer.account.key), clock), chain, holder="two")
    again.run_once()
    assert [outbox.get(i).status for i in ids] == ["submitted"] * 3
    chain.rpc.request("evm_mine", [])
    again.drain()
    rows = [outbox.get(i) for i in ids]
    assert [r.status for r in rows] == ["confirmed"] * 3
    (mined,) = _sent_rows(engine)
    assert mined.nonce == sent.nonce
    assert mined.mined_hash in mined.hashes
    assert {r.tx_hash for r in rows} == {mined.mined_hash}
    granted = _granted_per_nonce(chain, ledger)
    assert sum(granted.values()) == 3
    assert set(granted.values()) == {1}


def test_a_confirmation_the_chain_dropped_is_sent_again_under_its_own_nonce(
    chain, ledger: Ledger, relayer: TxSender, outbox: Outbox, engine: Engine, clock: ManualClock
) -> None:
    customer, brand = new_account(), new_account().address
    snapshot = chain.rpc.request("evm_snapshot")
    request = grant_request(customer.address, brand, chain.now())
    submission, _ = outbox.enqueue(Kind.GRANT, request, sign_grant(ledger, customer, request))
    worker = _worker(outbox, ledger, _sender(engine, relayer, clock), chain)
    worker.drain()
    first = outbox.get(submission.id)
    assert first.status == "confirmed"
    # The node restarts from an older state file: the confirming block is gone.
    assert chain.rpc.request("evm_revert", [snapshot]) is True
    chain.rpc.request("evm_mine", [])
    assert worker.follow_reorgs() == 1
    waiting = outbox.get(submission.id)
    assert waiting.status == "submitted"
    assert "left the chain" in (waiting.reason or "")
    worker.drain()
    again = outbox.get(submission.id)
    assert again.status == "confirmed"
    assert again.tx_hash == first.tx_hash  # the recorded transaction, re-broadcast: same nonce, same hash
    assert ledger.is_allowed(customer.address, brand, 1, 1)
    assert worker.follow_reorgs() == 0  # settled for good
    assert len(_sent_rows(engine)) == 1


def test_doubtful_rejections_are_settled_again_from_the_chain(
    chain, ledger: Ledger, relayer: TxSender, outbox: Outbox, engine: Engine, clock: ManualClock
) -> None:
    """Rows an older version got wrong: `rejected (invalid_nonce)` while their grant is on-chain (a
    duplicate send), and `rejected (gave up after 8 attempts)` for a transient cause."""
    brand = new_account().address
    customers, ids = _accept_grants(outbox, ledger, chain, brand, 2)
    landed = outbox.claim("elsewhere", 1)
    ledger.grant_batch(ledger.sender(relayer.account.key), [(landed[0].request, landed[0].signature)])
    with make_session_factory(engine).begin() as session:
        session.execute(
            update(OutboxItem).where(OutboxItem.id == ids[0]).values(status="rejected", reason="invalid_nonce")
        )
        session.execute(
            update(OutboxItem)
            .where(OutboxItem.id == ids[1])
            .values(status="rejected", reason="gave up after 8 attempts: no answer from the node")
        )
    _worker(outbox, ledger, _sender(engine, relayer, clock), chain).drain()
    assert [(outbox.get(i).status, outbox.get(i).reason) for i in ids] == [("confirmed", None)] * 2
    assert all(ledger.is_allowed(c.address, brand, 1, 1) for c in customers)
    assert set(_granted_per_nonce(chain, ledger).values()) == {1}


def test_a_doubtful_rejection_whose_nonce_was_signed_again_stays_settled(
    chain, ledger: Ledger, relayer: TxSender, outbox: Outbox, engine: Engine, clock: ManualClock
) -> None:
    customer, brand = new_account(), new_account().address
    old = grant_request(customer.address, brand, chain.now(), categories=0b1)
    first, _ = outbox.enqueue(Kind.GRANT, old, sign_grant(ledger, customer, old))
    with make_session_factory(engine).begin() as session:
        session.execute(
            update(OutboxItem).where(OutboxItem.id == first.id).values(status="rejected", reason="invalid_nonce")
        )
    new = grant_request(customer.address, brand, chain.now())  # the customer signed again with the freed nonce
    second, created = outbox.enqueue(Kind.GRANT, new, sign_grant(ledger, customer, new))
    assert created
    _worker(outbox, ledger, _sender(engine, relayer, clock), chain).drain()
    assert outbox.get(second.id).status == "confirmed"
    settled = outbox.get(first.id)
    assert settled.status == "rejected"
    assert settled.reason == "superseded by a newer message for the same nonce"
    assert ledger.grant_of(customer.address, brand).categories == 0b111
