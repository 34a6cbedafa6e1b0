"""Recording propagation steps on real SQLite and PostgreSQL: the version-3 leaf and its index row land in
the caller's transaction (or neither does), a step is recorded once however often it is reported, also by
several threads on two engines at once, and the log's stored tree stays the recomputed one."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from test_access_log import assert_tree_matches_recomputation, make_leaves

from consent_ledger.audit.leaf import decode_any
from consent_ledger.audit.log import AccessLog
from consent_ledger.audit.models import LogLeaf
from consent_ledger.db.engine import make_engine, make_session_factory
from consent_ledger.errors import InputError
from consent_ledger.propagation.models import PropagationRecord
from consent_ledger.propagation.steps import (
    PropagationStep,
    event_id_header,
    parse_event_id,
    record_step,
)

CUSTOMER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
BRAND = "0x32189f6124216a3AB701d0eD3eb0A9cFa6d0846b"
OCCURRED = datetime(2026, 12, 2, 8, 0, 0, tzinfo=UTC)


def _event(n: int) -> bytes:
    return hashlib.sha256(f"chain:31337:0x{n:064x}:0:{BRAND}".encode()).digest()


def _delivered(n: int = 1, at: datetime | None = None) -> PropagationStep:
    return PropagationStep.delivered(
        "consent.revoked", _event(n), CUSTOMER.lower(), BRAND, OCCURRED, at or OCCURRED + timedelta(seconds=1)
    )


def _acknowledged(n: int = 1, ack: str = "stopped_processing") -> PropagationStep:
    return PropagationStep.acknowledged(
        "consent.revoked", _event(n), CUSTOMER, BRAND, OCCURRED, OCCURRED + timedelta(seconds=5), ack
    )


def _rows(engine: Engine) -> list[PropagationRecord]:
    with make_session_factory(engine)() as session:
        return list(session.scalars(select(PropagationRecord).order_by(PropagationRecord.leaf_index)))


def test_a_step_is_a_leaf_and_an_index_row(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    log = AccessLog(sessions)
    with sessions() as session:
        log.append_and_commit(session, make_leaves(2))  # releases first: the step goes to the next index
        index = record_step(session, _delivered())
        session.commit()
    assert index == 2
    leaf = decode_any(log.leaf(index))
    assert (leaf.step, leaf.event_type, leaf.event_id) == ("delivered", "consent.revoked", _event(1))  # type: ignore[union-attr]
    assert (leaf.customer, leaf.brand, leaf.ack) == (CUSTOMER, BRAND, None)  # type: ignore[union-attr]
    assert leaf.occurred_at == int(OCCURRED.timestamp())  # type: ignore[union-attr]
    (row,) = _rows(engine)
    assert (row.leaf_index, row.leaf_id, row.event_id) == (2, leaf.receipt_id, _event(1).hex())
    assert (row.step, row.event_type, row.customer, row.brand, row.ack) == (
        "delivered",
        "consent.revoked",
        CUSTOMER,
        BRAND,
        None,
    )
    assert row.occurred_at == OCCURRED
    assert row.at == OCCURRED + timedelta(seconds=1)
    assert_tree_matches_recomputation(engine, 3)


def test_the_callers_rollback_takes_both_away(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    with sessions() as session:
        record_step(session, _delivered())
        session.rollback()
    assert _rows(engine) == []
    assert AccessLog(sessions).size == 0
    with sessions() as session:
        assert record_step(session, _delivered()) == 0
        session.commit()
    assert_tree_matches_recomputation(engine, 1)


def test_a_step_is_recorded_once_and_each_acknowledgement_once(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    with sessions() as session:
        first = record_step(session, _delivered())
        session.commit()
    with sessions() as session:  # a redelivery of the same event, later
        again = record_step(session, _delivered(at=OCCURRED + timedelta(minutes=3)))
        ack = record_step(session, _acknowledged())
        ack_again = record_step(session, _acknowledged())
        received = record_step(session, _acknowledged(ack="received"))
        other_event = record_step(session, _delivered(2))
        session.commit()
    assert (first, again, ack, ack_again, received, other_event) == (0, 0, 1, 1, 2, 3)
    rows = _rows(engine)
    assert [(r.step, r.ack) for r in rows] == [
        ("delivered", None),
        ("acknowledged", "stopped_processing"),
        ("acknowledged", "received"),
        ("delivered", None),
    ]
    assert rows[0].at == OCCURRED + timedelta(seconds=1)  # the first delivery's time stays
    assert_tree_matches_recomputation(engine, 4)


@pytest.mark.parametrize(
    "step",
    [
        PropagationStep("told", "consent.revoked", _event(1), CUSTOMER, BRAND, OCCURRED, OCCURRED),
        PropagationStep.delivered("consent.deleted", _event(1), CUSTOMER, BRAND, OCCURRED, OCCURRED),
        PropagationStep.delivered("consent.revoked", b"\x01" * 31, CUSTOMER, BRAND, OCCURRED, OCCURRED),
        PropagationStep.delivered("consent.revoked", _event(1), "0x1234", BRAND, OCCURRED, OCCURRED),
        PropagationStep.delivered(
            "consent.revoked", _event(1), CUSTOMER, BRAND, OCCURRED.replace(tzinfo=None), OCCURRED
        ),
        PropagationStep.acknowledged("consent.revoked", _event(1), CUSTOMER, BRAND, OCCURRED, OCCURRED, "ignored"),
        PropagationStep("delivered", "consent.revoked", _event(1), CUSTOMER, BRAND, OCCURRED, OCCURRED, "received"),
    ],
)
def test_bad_steps_are_input_errors_and_change_nothing(engine: Engine, step: PropagationStep) -> None:
    sessions = make_session_factory(engine)
    with sessions() as session:
        with pytest.raises(InputError):
            record_step(session, step)
        session.commit()
    assert _rows(engine) == []
    assert AccessLog(sessions).size == 0


def test_event_ids_in_their_header_form() -> None:
    header = event_id_header(_event(1))
    assert header == "evt_" + _event(1).hex()
    assert parse_event_id(header) == _event(1)
    for bad in ["", _event(1).hex(), "evt_" + _event(1).hex().upper(), "evt_" + "zz" * 32, header + "00", "evt_"]:
        with pytest.raises(InputError):
            parse_event_id(bad)


def test_replicas_recording_the_same_steps_at_once_append_each_once(migrated_url: str) -> None:
    """Two engines (two replicas), three threads each, all reporting the same ten deliveries and their
    acknowledgements interleaved with releases: each step is one leaf, indexes stay dense."""
    engines = [make_engine(migrated_url), make_engine(migrated_url)]
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []
    indexes: dict[tuple[int, str], set[int]] = {}
    lock = threading.Lock()

    def work(worker_engine: Engine) -> None:
        sessions = make_session_factory(worker_engine)
        log = AccessLog(sessions)
        barrier.wait()
        try:
            for n in range(10):
                with sessions() as session:
                    log.append(session, make_leaves(1))
                    told = record_step(session, _delivered(n))
                    acked = record_step(session, _acknowledged(n))
                    session.commit()
                with lock:
                    indexes.setdefault((n, "delivered"), set()).add(told)
                    indexes.setdefault((n, "acknowledged"), set()).add(acked)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(engine,)) for engine in engines for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert errors == []
        assert all(len(found) == 1 for found in indexes.values()), indexes
        assert len(_rows(engines[0])) == 20
        with make_session_factory(engines[0])() as session:
            assert session.scalar(select(func.count()).select_from(LogLeaf)) == 60 + 20
        assert_tree_matches_recomputation(engines[0], 80)
    finally:
        for engine in engines:
            engine.dispose()
