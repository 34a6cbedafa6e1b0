"""Races on real PostgreSQL: app instances migrating at once, and first writes for one customer at once."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable

from sqlalchemy import text

from consent_ledger.catalog import default_catalog
from consent_ledger.db.engine import make_engine, make_session_factory
from consent_ledger.db.migrate import current_revision, head_revision, upgrade
from consent_ledger.vault import FieldValue, MasterKey, Vault

ALICE = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
WORKERS = 4
UPGRADE = "import sys; from consent_ledger.db.migrate import upgrade; upgrade(sys.argv[1])"


def test_processes_upgrading_at_once_serialise(pg_database: str) -> None:
    """Several app instances starting together: the advisory lock lets one migrate, the others then see head."""
    workers = [subprocess.Popen([sys.executable, "-c", UPGRADE, pg_database]) for _ in range(WORKERS)]
    assert [worker.wait(timeout=120) for worker in workers] == [0] * WORKERS
    assert current_revision(pg_database) == head_revision()


def test_threads_upgrading_at_once_serialise(pg_database: str) -> None:
    assert run_together(lambda _i: upgrade(pg_database)) == []
    assert current_revision(pg_database) == head_revision()


def test_concurrent_first_writes_share_one_data_key(pg_database: str) -> None:
    upgrade(pg_database)
    engine = make_engine(pg_database)
    try:
        vault = Vault(make_session_factory(engine), MasterKey.generate(), default_catalog())
        assert run_together(lambda i: vault.put_fields(ALICE, {f"f{i}": ("interests", f"value {i}")})) == []
        assert vault.get_fields(ALICE) == {f"f{i}": FieldValue("interests", f"value {i}") for i in range(WORKERS)}
        with engine.connect() as connection:
            assert connection.execute(text("SELECT COUNT(*) FROM customer_keys")).scalar_one() == 1
    finally:
        engine.dispose()


def run_together(work: Callable[[int], None]) -> list[BaseException]:
    """Run `work(i)` on WORKERS threads released at the same moment; the errors they raised."""
    barrier = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def body(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except BaseException as error:  # the test reports it
            errors.append(error)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    return errors
