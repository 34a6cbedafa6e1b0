"""Finishing webhook attempts together, on SQLite and PostgreSQL: several attempts finished in one transaction
each get their row of the delivery log and their delivery's new state (delivered, retried later, or left
alone when the claim no longer holds it), the delivered and acknowledged leaves of the 2xx answers are
appended in one run in the order given, an event delivered twice in one batch has one delivered leaf, and
the endpoint's failing streak is what finishing them one by one would leave. A worker whose finishing
transaction never commits (as when the process dies between the POST and that commit) leaves its claims to
lapse, and the next worker sends the webhook again and records it once."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.addresses import checksum_address
from consent_ledger.audit.models import LogHead
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.db.engine import make_session_factory
from consent_ledger.propagation.models import PropagationRecord
from consent_ledger.propagation.steps import PropagationStep, record_steps
from consent_ledger.vault import MasterKey
from consent_ledger.webhooks import events as ev
from consent_ledger.webhooks.claims import Claim, Finished, Outcome
from consent_ledger.webhooks.emitter import Emitter
from consent_ledger.webhooks.endpoints import EndpointStore
from consent_ledger.webhooks.models import DELIVERED, PENDING, OutboxAttempt, OutboxDelivery, OutboxEvent
from consent_ledger.webhooks.outbox import RetryPolicy, WebhookOutbox
from consent_ledger.webhooks.signing import SigningKey
from consent_ledger.webhooks.worker import DeliveryLimits, WebhookWorker
from webhook_receiver import ack, receiver, wait_for

BRAND = checksum_address("0x" + "ab" * 20)
CUSTOMER = checksum_address("0x" + "12" * 20)
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
POLICY = RetryPolicy(base=10.0, cap=60.0, dead_after=3600.0, disable_after=86_400.0)
LIMITS = DeliveryLimits(threads=2, per_endpoint=2, connect_timeout=1.0, total_timeout=5.0, allow_private=True)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def outbox(master_key: MasterKey) -> WebhookOutbox:
    return WebhookOutbox(EndpointStore(master_key), POLICY)


def _revocation(n: int) -> ev.NewEvent:
    cause = ev.chain_cause(1, "0x" + f"{n:064x}", 0, BRAND)
    return ev.NewEvent(ev.REVOKED, cause, CUSTOMER, BRAND, NOW, 7, "0x" + f"{n:064x}", {"nonce": str(n)})


def _endpoint(sessions: sessionmaker[Session], outbox: WebhookOutbox, url: str) -> str:
    with sessions.begin() as session:
        return outbox.endpoints.create(session, BRAND, url, ["consent.revoked"], "crm", NOW).endpoint.id


def _claims(sessions: sessionmaker[Session], outbox: WebhookOutbox, events: int) -> list[Claim]:
    with sessions.begin() as session:
        outbox.emit(session, [_revocation(n) for n in range(events)], NOW)
    with sessions.begin() as session:
        return outbox.claim(session, NOW, 100, {}, 100, 60.0)


def _log_size(session: Session) -> int:
    return int(session.scalar(select(LogHead.size)) or 0)


def test_attempts_finished_together_each_move_on_and_their_leaves_are_one_run(
    sessions: sessionmaker[Session], outbox: WebhookOutbox
) -> None:
    endpoint_id = _endpoint(sessions, outbox, "https://hooks.example.com/a")
    acked, plain, failed, lost = _claims(sessions, outbox, 4)
    assert len({c.token for c in (acked, plain, failed, lost)}) == 1  # one claim round, one token
    stale = replace(lost, token="another-workers-token")
    at = [NOW + timedelta(seconds=s) for s in (1, 2, 3, 4)]
    with sessions() as session:
        size_before = _log_size(session)
    with sessions.begin() as session:
        done = outbox.finish_many(
            session,
            [
                Finished(acked, Outcome(200, 5, None, "stopped_processing"), at[0]),
                Finished(plain, Outcome(204, 6), at[1]),
                Finished(failed, Outcome(500, 7, "HTTP 500"), at[2]),
                Finished(stale, Outcome(200, 8), at[3]),
            ],
        )
    assert done == [True, True, True, False]
    with sessions() as session:
        rows = {d.id: d for d in session.scalars(select(OutboxDelivery))}
        assert (rows[acked.delivery_id].state, rows[acked.delivery_id].delivered_at) == (DELIVERED, at[0])
        assert (rows[plain.delivery_id].state, rows[plain.delivery_id].delivered_at) == (DELIVERED, at[1])
        retried = rows[failed.delivery_id]
        assert (retried.state, retried.attempts, retried.last_error, retried.claimed_by) == (
            PENDING,
            1,
            "HTTP 500",
            None,
        )
        assert at[2] <= retried.next_attempt_at <= at[2] + timedelta(seconds=POLICY.base)
        untouched = rows[lost.delivery_id]  # its claim is still held under the real token, no attempt logged
        assert (untouched.state, untouched.attempts, untouched.claimed_by) == (PENDING, 0, lost.token)
        logged = session.execute(select(OutboxAttempt.delivery_id, OutboxAttempt.status_code, OutboxAttempt.at)).all()
        assert sorted(logged) == sorted(
            [(acked.delivery_id, 200, at[0]), (plain.delivery_id, 204, at[1]), (failed.delivery_id, 500, at[2])]
        )
        steps = session.execute(
            select(PropagationRecord.leaf_index, PropagationRecord.event_id, PropagationRecord.step).order_by(
                PropagationRecord.leaf_index
            )
        ).all()
        assert [(event_id, step) for _, event_id, step in steps] == [
            (acked.event_id, "delivered"),
            (acked.event_id, "acknowledged"),
            (plain.event_id, "delivered"),
        ]
        assert [index for index, _, _ in steps] == [size_before, size_before + 1, size_before + 2]
        assert _log_size(session) == size_before + 3
        told = session.get(OutboxEvent, acked.event_id)
        assert told is not None
        assert (told.ack, told.acknowledged_at) == ("stopped_processing", at[0])
        plain_event = session.get(OutboxEvent, plain.event_id)
        assert plain_event is not None
        assert plain_event.ack is None
        # ok, ok, then a failure: the streak starts at the failure, as one by one would leave it
        endpoint = outbox.endpoints.endpoint(session, endpoint_id)
        assert endpoint is not None
        assert endpoint.failing_since == at[2]


def test_an_event_delivered_twice_in_one_batch_has_one_delivered_leaf(
    sessions: sessionmaker[Session], outbox: WebhookOutbox
) -> None:
    _endpoint(sessions, outbox, "https://hooks.example.com/a")
    _endpoint(sessions, outbox, "https://hooks.example.com/b")
    first, second = _claims(sessions, outbox, 1)  # one event, a delivery to each endpoint
    assert first.event_id == second.event_id
    with sessions.begin() as session:
        done = outbox.finish_many(
            session, [Finished(first, Outcome(200, 1), NOW), Finished(second, Outcome(200, 1), NOW)]
        )
    assert done == [True, True]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(PropagationRecord)) == 1
        assert {d.state for d in session.scalars(select(OutboxDelivery))} == {DELIVERED}


def test_steps_recorded_together_are_appended_once_each_in_order(sessions: sessionmaker[Session]) -> None:
    step = PropagationStep.delivered(ev.REVOKED, b"\x01" * 32, CUSTOMER, BRAND, NOW, NOW)
    other = PropagationStep.acknowledged(ev.REVOKED, b"\x01" * 32, CUSTOMER, BRAND, NOW, NOW, "deleted")
    with sessions.begin() as session:
        start = _log_size(session)
        assert record_steps(session, [step, other, step]) == [start, start + 1, start]
    with sessions.begin() as session:
        assert record_steps(session, [other, step]) == [start + 1, start]  # known already: nothing appended
        assert _log_size(session) == start + 2


class _DiesBeforeCommitting(WebhookOutbox):
    """An outbox whose finishing transaction never commits: what a process killed between the POST and that
    commit leaves behind."""

    def finish_many(self, session: Session, finished: Sequence[Finished]) -> list[bool]:
        raise RuntimeError("the process died before the commit")


def _worker(sessions: sessionmaker[Session], outbox: WebhookOutbox, clock: list[datetime]) -> WebhookWorker:
    emitter = Emitter(outbox, 1, RpcClient("http://127.0.0.1:9"))  # no chain: the emitter never asks it
    return WebhookWorker(sessions, outbox, emitter, SigningKey.generate(), LIMITS, clock=lambda: clock[0])


def test_an_attempt_made_but_never_finished_is_sent_again_and_recorded_once(
    sessions: sessionmaker[Session], outbox: WebhookOutbox
) -> None:
    with receiver() as hooks:
        hooks.answer("/hook", ack("stopped_processing"))
        _endpoint(sessions, outbox, hooks.url("/hook"))
        with sessions.begin() as session:
            outbox.emit(session, [_revocation(1)], NOW)
        clock = [NOW]
        dying = _worker(sessions, _DiesBeforeCommitting(outbox.endpoints, POLICY), clock)
        dying.drain()
        dying.stop()
        (first,) = hooks.wait("/hook")
        with sessions() as session:
            (delivery,) = session.scalars(select(OutboxDelivery)).all()
            assert (delivery.state, delivery.attempts) == (PENDING, 0)  # sent, but nothing of it recorded
            assert delivery.claimed_by is not None
            assert session.scalar(select(func.count()).select_from(OutboxAttempt)) == 0

        clock[0] = NOW + timedelta(seconds=LIMITS.lease + 1)  # the claim lapses
        taking_over = _worker(sessions, outbox, clock)
        taking_over.drain()
        taking_over.stop()
        again = hooks.wait("/hook", 2)[1]
        assert again.headers["webhook-id"] == first.headers["webhook-id"]
        assert again.body == first.body
    with sessions() as session:
        (delivery,) = session.scalars(select(OutboxDelivery)).all()
        assert (delivery.state, delivery.attempts) == (DELIVERED, 1)
        steps = session.scalars(select(PropagationRecord.step).order_by(PropagationRecord.leaf_index)).all()
        assert steps == ["delivered", "acknowledged"]


def test_attempts_made_while_a_finish_runs_are_finished_together_by_the_next(
    sessions: sessionmaker[Session], outbox: WebhookOutbox
) -> None:
    with receiver() as hooks:
        _endpoint(sessions, outbox, hooks.url("/hook"))
        with sessions.begin() as session:
            outbox.emit(session, [_revocation(n) for n in range(6)], NOW)
        batches: list[int] = []

        class HeldUp(WebhookOutbox):
            """The first finish waits until every webhook has arrived: the senders do not wait for it."""

            def finish_many(self, session: Session, finished: Sequence[Finished]) -> list[bool]:
                if not batches:
                    wait_for("6 webhooks sent while finishing", lambda: len(hooks.at("/hook")) == 6)
                batches.append(len(finished))
                return super().finish_many(session, finished)

        worker = _worker(sessions, HeldUp(outbox.endpoints, POLICY), [NOW])
        worker.drain()
        worker.stop()
    assert sum(batches) == 6
    assert len(batches) < 6  # some were finished together
    assert max(batches) >= 6 - batches[0]  # all made meanwhile, by the next one
    with sessions() as session:
        assert {d.state for d in session.scalars(select(OutboxDelivery))} == {DELIVERED}
        assert session.scalar(select(func.count()).select_from(OutboxAttempt)) == 6


def test_a_batch_leaves_the_failing_streak_as_its_last_attempts_say(
    sessions: sessionmaker[Session], outbox: WebhookOutbox
) -> None:
    endpoint_id = _endpoint(sessions, outbox, "https://hooks.example.com/a")
    claims = _claims(sessions, outbox, 4)
    earlier = NOW - timedelta(hours=1)
    with sessions.begin() as session:
        outbox.endpoints.note_failing(session, endpoint_id, earlier)
    with sessions.begin() as session:  # a failure, then a success: the streak ends
        outbox.finish_many(
            session,
            [
                Finished(claims[0], Outcome(500, 1, "HTTP 500"), NOW),
                Finished(claims[1], Outcome(200, 1), NOW + timedelta(seconds=1)),
            ],
        )
    with sessions() as session:
        endpoint = outbox.endpoints.endpoint(session, endpoint_id)
        assert endpoint is not None
        assert endpoint.failing_since is None
    later = NOW + timedelta(seconds=5)
    with sessions.begin() as session:  # a success, then failures: a new streak from the first of them
        outbox.finish_many(
            session,
            [
                Finished(claims[2], Outcome(200, 1), NOW + timedelta(seconds=2)),
                Finished(claims[3], Outcome(None, 1, "timed out"), later),
            ],
        )
    with sessions() as session:
        endpoint = outbox.endpoints.endpoint(session, endpoint_id)
        assert endpoint is not None
        assert endpoint.failing_since == later


def test_a_claim_that_waited_too_long_to_be_sent_in_its_lease_is_not_sent_until_claimed_again(
    sessions: sessionmaker[Session], outbox: WebhookOutbox
) -> None:
    limits = DeliveryLimits(threads=1, per_endpoint=1, connect_timeout=1.0, total_timeout=30.0, allow_private=True)
    with receiver() as hooks:
        gate = threading.Event()
        hooks.hang["/slow"] = gate
        _endpoint(sessions, outbox, hooks.url("/slow"))
        with sessions.begin() as session:
            outbox.emit(session, [_revocation(1), _revocation(2)], NOW)
        clock = [NOW]
        emitter = Emitter(outbox, 1, RpcClient("http://127.0.0.1:9"))
        worker = WebhookWorker(sessions, outbox, emitter, SigningKey.generate(), limits, clock=lambda: clock[0])
        assert worker.dispatch() == 2  # both claimed; the one thread takes the first, which hangs
        hooks.wait("/slow")
        clock[0] = NOW + timedelta(seconds=limits.lease - limits.attempt_s)  # the second could outlast its lease
        gate.set()
        wait_for("the sender to be done", lambda: worker.in_flight() == 0)
        worker.finish()
        assert len(hooks.at("/slow")) == 1  # the second was not sent
        with sessions() as session:
            states = sorted((d.state, d.attempts) for d in session.scalars(select(OutboxDelivery)))
        assert states == [(DELIVERED, 1), (PENDING, 0)]

        clock[0] = NOW + timedelta(seconds=limits.lease + 1)  # its claim lapsed: claimed and sent again
        worker.drain()
        worker.stop()
        assert len(hooks.at("/slow")) == 2
    with sessions() as session:
        assert {d.state for d in session.scalars(select(OutboxDelivery))} == {DELIVERED}
