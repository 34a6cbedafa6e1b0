"""Leases on SQLite and PostgreSQL: one holder per job, renewals, expiry and takeover, release, and the
background loop that runs a job only while it holds its lease."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine

from consent_ledger.db.engine import make_session_factory
from consent_ledger.leases import Lease, LeaseStore
from consent_ledger.workers import BackgroundLoop


def _store(engine: Engine) -> LeaseStore:
    return LeaseStore(make_session_factory(engine))


def test_one_holder_at_a_time_then_takeover_after_expiry(engine: Engine) -> None:
    store = _store(engine)
    assert store.acquire("relayer", "a", ttl=0.5) == 1
    assert store.acquire("relayer", "b", ttl=0.5) is None  # a holds it
    assert store.acquire("relayer", "a", ttl=0.5) == 1  # a renews: same term
    assert store.acquire("anchorer", "b", ttl=0.5) == 1  # another job is another lease
    time.sleep(0.7)  # a stops renewing (it died)
    assert store.acquire("relayer", "b", ttl=5) == 2  # b takes over: a new term fences a's
    assert store.acquire("relayer", "a", ttl=5) is None
    leaders = {s.name: s for s in store.current_leaders()}
    assert (leaders["relayer"].holder, leaders["relayer"].term, leaders["relayer"].live) == ("b", 2, True)
    assert leaders["anchorer"].live is False


def test_release_hands_over_at_once(engine: Engine) -> None:
    store = _store(engine)
    assert store.acquire("indexer", "a", ttl=60) == 1
    assert store.release("indexer", "b") is False  # only the holder can release
    assert store.release("indexer", "a") is True
    assert store.acquire("indexer", "b", ttl=60) == 2


def test_concurrent_takers_get_one_lease(engine: Engine) -> None:
    store = _store(engine)
    results: list[int | None] = []
    barrier = threading.Barrier(8)

    def take(holder: str) -> None:
        barrier.wait()
        results.append(store.acquire("relayer", holder, ttl=60))

    threads = [threading.Thread(target=take, args=(f"h{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results, key=lambda r: r is None) == [1] + [None] * 7
    (state,) = store.current_leaders()
    assert state.live


def test_only_the_leader_runs_the_job_and_another_takes_over(engine: Engine) -> None:
    store = _store(engine)
    ran: dict[str, int] = {"a": 0, "b": 0}

    def step(name: str):
        def run() -> bool:
            ran[name] += 1
            return False

        return run

    loops = {name: BackgroundLoop("job", step(name), Lease(store, "job", name, ttl=0.6)) for name in ("a", "b")}
    loops["a"].start(0.02)
    deadline = time.monotonic() + 5
    while not loops["a"].leading and time.monotonic() < deadline:
        time.sleep(0.01)
    loops["b"].start(0.02)
    try:
        time.sleep(0.8)
        assert loops["a"].leading
        assert not loops["b"].leading
        assert ran["a"] > 0
        assert ran["b"] == 0
        loops["a"].stop()  # a clean stop releases the lease: b leads within a heartbeat
        deadline = time.monotonic() + 3
        while not loops["b"].leading and time.monotonic() < deadline:
            time.sleep(0.01)
        assert loops["b"].leading
        before = ran["b"]
        time.sleep(0.3)
        assert ran["b"] > before
    finally:
        for loop in loops.values():
            loop.stop()
