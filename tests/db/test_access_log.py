"""The access log shared through the database, on real SQLite and PostgreSQL: appenders in several threads,
engines and processes at once get dense indexes, and the stored tree (nodes, head) equals a fresh
recomputation from the leaves."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, insert, select

from consent_ledger.audit.errors import ProofError
from consent_ledger.audit.leaf import Leaf, fields_digest
from consent_ledger.audit.log import AccessLog
from consent_ledger.audit.merkle import MerkleTree, leaf_hash
from consent_ledger.audit.models import LogHead, LogLeaf, LogNode, node_id
from consent_ledger.db.engine import make_engine, make_session_factory
from consent_ledger.db.migrate import alembic_config

CUSTOMER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
BRAND = "0x32189f6124216a3AB701d0eD3eb0A9cFa6d0846b"

APPENDER = """
import sys, time, uuid
from pathlib import Path
from consent_ledger.audit.leaf import Leaf, fields_digest
from consent_ledger.audit.log import AccessLog
from consent_ledger.db.engine import make_engine, make_session_factory
url, go, batches, per_batch = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
engine = make_engine(url)
sessions = make_session_factory(engine)
log = AccessLog(sessions)
while not go.exists():
    time.sleep(0.01)
for b in range(batches):
    leaves = [
        Leaf(str(uuid.uuid4()), "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
             "0x32189f6124216a3AB701d0eD3eb0A9cFa6d0846b", 1, 2, b, "0x" + "cd" * 32, 1_700_000_000,
             fields_digest(["email"]))
        for _ in range(per_batch)
    ]
    with sessions() as session:
        log.append_and_commit(session, leaves)
engine.dispose()
"""


def make_leaves(count: int, block: int = 7) -> list[Leaf]:
    return [
        Leaf(str(uuid.uuid4()), CUSTOMER, BRAND, 1, 2, block, "0x" + "ab" * 32, 1_700_000_000, fields_digest(["email"]))
        for _ in range(count)
    ]


def assert_tree_matches_recomputation(engine: Engine, expected_size: int) -> MerkleTree:
    """Dense indexes 0..size-1, the stored head and every stored node equal to a tree rebuilt from the leaves."""
    sessions = make_session_factory(engine)
    with sessions() as session:
        rows = session.execute(select(LogLeaf.index, LogLeaf.leaf, LogLeaf.leaf_hash).order_by(LogLeaf.index)).all()
        nodes = {int(key): bytes(h) for key, h in session.execute(select(LogNode.id, LogNode.hash))}
        head = session.get(LogHead, 1)
    assert [int(index) for index, _, _ in rows] == list(range(expected_size))
    assert all(leaf_hash(bytes(leaf)) == bytes(digest) for _, leaf, digest in rows)
    tree = MerkleTree(bytes(digest) for _, _, digest in rows)
    expected_nodes = {
        node_id(level, position): tree.node((level, position))
        for level in range(1, max(expected_size, 1).bit_length())
        for position in range(expected_size >> level)
    }
    assert nodes == expected_nodes
    assert head is not None
    assert head.size == expected_size
    log = AccessLog(sessions)
    assert log.head().size == expected_size
    assert log.head().root == tree.root() == log.root(expected_size)
    return tree


def test_proofs_from_storage_equal_the_in_memory_tree(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    log = AccessLog(sessions)
    tree = MerkleTree()
    assert log.head().root == tree.root()
    for batch in (1, 1, 2, 3, 5, 8, 13):
        leaves = make_leaves(batch)
        with sessions() as session:
            indexes = log.append_and_commit(session, leaves)
        assert indexes == list(range(tree.size, tree.size + batch))
        tree.extend(leaf_hash(leaf.encode()) for leaf in leaves)
    size = tree.size
    for n in range(1, size + 1):
        assert log.root(n) == tree.root(n)
        assert log.inclusion_proofs(list(range(n)), n) == {i: tree.inclusion_proof(i, n) for i in range(n)}
        for old in range(1, n + 1):
            assert log.consistency_proof(old, n) == tree.consistency_proof(old, n)
    assert [log.leaf_hash(i) for i in range(size)] == [tree.leaf(i) for i in range(size)]
    with pytest.raises(ProofError):
        log.inclusion_proof(0, size + 1)
    with pytest.raises(ProofError):
        log.root(size + 1)


def test_a_failed_transaction_leaves_the_head_untouched(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    log = AccessLog(sessions)
    with sessions() as session:
        log.append_and_commit(session, make_leaves(3))
    before = log.head()
    with sessions() as session:
        log.append(session, make_leaves(4))
        session.rollback()
    assert log.head() == before
    with sessions() as session:
        assert log.append_and_commit(session, make_leaves(1)) == [3]
    assert_tree_matches_recomputation(engine, 4)


def test_threads_on_two_engines_append_at_once(migrated_url: str) -> None:
    """Two AccessLog instances (as two replicas would hold) on separate engines, four threads each."""
    engines = [make_engine(migrated_url), make_engine(migrated_url)]
    logs = [AccessLog(make_session_factory(engine)) for engine in engines]
    threads_per_log, batches, per_batch = 4, 15, 3
    barrier = threading.Barrier(threads_per_log * len(logs))
    errors: list[BaseException] = []
    claimed: list[int] = []

    def work(log: AccessLog, sessions_engine: Engine) -> None:
        sessions = make_session_factory(sessions_engine)
        barrier.wait()
        try:
            for _ in range(batches):
                with sessions() as session:
                    claimed.extend(log.append_and_commit(session, make_leaves(per_batch)))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [
        threading.Thread(target=work, args=(log, engine))
        for log, engine in zip(logs, engines, strict=True)
        for _ in range(threads_per_log)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert errors == []
        total = threads_per_log * len(logs) * batches * per_batch
        assert sorted(claimed) == list(range(total))
        assert_tree_matches_recomputation(engines[0], total)
        assert logs[1].head() == logs[0].head()
    finally:
        for engine in engines:
            engine.dispose()


def test_processes_append_at_once(migrated_url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    workers, batches, per_batch = 3, 40, 2
    processes = [
        subprocess.Popen([sys.executable, "-c", APPENDER, migrated_url, str(go), str(batches), str(per_batch)])
        for _ in range(workers)
    ]
    go.touch()
    assert [process.wait(timeout=180) for process in processes] == [0] * workers
    engine = make_engine(migrated_url)
    try:
        assert_tree_matches_recomputation(engine, workers * batches * per_batch)
    finally:
        engine.dispose()


def test_upgrade_builds_the_tree_of_leaves_written_before_it(db_url: str) -> None:
    """A database whose log was written before the tree moved into the database gets its nodes and head."""
    command.upgrade(alembic_config(db_url), "0006_outbox_live_nonce")
    leaves = make_leaves(13)
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(LogLeaf),
                [
                    {
                        "index": i,
                        "receipt_id": leaf.receipt_id,
                        "leaf": leaf.encode(),
                        "leaf_hash": leaf_hash(leaf.encode()),
                    }
                    for i, leaf in enumerate(leaves)
                ],
            )
        command.upgrade(alembic_config(db_url), "head")
        assert_tree_matches_recomputation(engine, 13)
        log = AccessLog(make_session_factory(engine))
        with make_session_factory(engine)() as session:
            assert log.append_and_commit(session, make_leaves(2)) == [13, 14]
        assert_tree_matches_recomputation(engine, 15)
    finally:
        engine.dispose()
