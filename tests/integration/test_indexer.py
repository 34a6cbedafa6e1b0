"""The indexer against a real anvil and real databases (SQLite and PostgreSQL): every event kind
with the chain's fields, confirmations, reorgs and node restarts (evm_snapshot / evm_revert),
crash safety, and incremental == backfill from scratch."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine, func, select

from api_support import api_settings
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.tx import TxSender
from consent_ledger.cli.index_cmd import index_command
from consent_ledger.db.engine import make_engine, make_session_factory
from consent_ledger.db.migrate import upgrade
from consent_ledger.domain import RevokeRequest, uniform_terms
from consent_ledger.errors import ConfigError, InputError, RpcError
from consent_ledger.indexer.models import ChainEvent, IndexerCursor
from consent_ledger.indexer.queries import anchors, history
from consent_ledger.indexer.runner import Indexer
from support import DAY, NOTICE, grant_request, new_account, sign_grant, sign_revoke

pytestmark = pytest.mark.chain

BIG = 2**64 - 1  # uint64 masks must survive SQLite exactly


@pytest.fixture
def sessions(engine: Engine):
    return make_session_factory(engine)


@pytest.fixture
def fresh(tmp_path):
    """A second, empty (migrated) SQLite database, for backfills from scratch."""
    url = f"sqlite:///{tmp_path / 'fresh' / 'fresh.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


def _indexer(chain, sessions, **options) -> Indexer:
    return Indexer(chain.rpc, chain.deployment.address, chain.deployment.deploy_block, sessions, **options)


def _rows(sessions) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "id"} for row in history(sessions, limit=1000)]


def _signed_grants(chain, ledger: Ledger, relayer: TxSender, count: int, brand: str | None = None) -> list[str]:
    brand = brand or new_account().address
    items = []
    for _ in range(count):
        customer = new_account()
        request = grant_request(customer.address, brand, chain.now())
        items.append((request, sign_grant(ledger, customer, request)))
    ledger.grant_batch(relayer, items)
    return [request.customer for request, _ in items]


def test_indexes_every_kind_with_the_chains_fields(chain, ledger: Ledger, relayer: TxSender, sessions) -> None:
    alice, bob, brand = new_account(), new_account(), new_account().address
    chain.fund(alice.address)
    own = ledger.sender(alice.key)
    ledger.grant(own, brand, uniform_terms(BIG, 2**63 + 5), chain.now() + 90 * DAY, NOTICE)
    good = grant_request(bob.address, brand, chain.now())
    stale = grant_request(new_account().address, brand, chain.now(), nonce=7)
    ledger.grant_batch(relayer, [(good, sign_grant(ledger, bob, good)), (stale, b"\x01" * 65)])
    ledger.revoke(own, brand)
    bad = RevokeRequest(bob.address, brand, 9, chain.now() + DAY)
    ledger.revoke_batch(relayer, [(bad, sign_revoke(ledger, bob, bad))])
    ledger.anchor(relayer, bytes.fromhex("ab" * 32), 12)

    step = _indexer(chain, sessions).run_once()
    assert (step.events, step.to_block, step.rewound_to) == (6, chain.rpc.block_number(), None)
    rows = history(sessions)
    kinds = ["granted", "granted", "grant_rejected", "revoked", "revoke_rejected", "anchored"]
    assert [r["kind"] for r in rows] == kinds
    for row in rows:
        block = chain.rpc.get_block(row["block_number"])
        assert (row["block_hash"], row["block_timestamp"]) == (block["hash"], int(block["timestamp"], 16))
    for row in rows[:2]:
        state = ledger.grant_of(row["customer"], row["brand"], row["block_number"])
        assert (row["categories"], row["purposes"], row["expires_at"]) == (
            state.categories,
            state.purposes,
            state.expires_at,
        )
        assert (int(row["nonce"]), row["block_timestamp"]) == (state.nonce - 1, state.granted_at)
        assert row["notice_hash"] == "0x" + NOTICE.hex()
    assert (rows[0]["customer"], rows[0]["categories"], rows[0]["purposes"]) == (alice.address, BIG, 2**63 + 5)
    assert (rows[2]["nonce"], rows[2]["reason"], rows[2]["categories"]) == ("7", "invalid_nonce", None)
    assert (rows[3]["customer"], rows[3]["nonce"]) == (alice.address, "1")
    assert (rows[4]["kind"], rows[4]["nonce"], rows[4]["reason"]) == ("revoke_rejected", "9", "invalid_nonce")
    (anchor,) = anchors(sessions)
    assert (anchor["custodian"], anchor["root"], anchor["size"]) == (relayer.address, "0x" + "ab" * 32, 12)
    assert anchors(sessions, custodian=alice.address) == []

    assert [r["kind"] for r in history(sessions, customer=alice.address.lower())] == ["granted", "revoked"]
    assert len(history(sessions, brand=brand, kinds=["grant_rejected", "revoke_rejected"])) == 2
    first, second = history(sessions, limit=3), history(sessions, limit=3, after_id=rows[2]["id"])
    assert first + second == rows
    assert history(sessions, from_block=rows[3]["block_number"], to_block=rows[4]["block_number"]) == rows[3:5]
    for bad_query in ({"kinds": ["minted"]}, {"customer": "alice"}, {"limit": 0}):
        with pytest.raises(InputError):  # a client error (400 through the API), never a bare ValueError
            history(sessions, **bad_query)


def test_confirmations_hold_back_the_newest_blocks(chain, ledger: Ledger, relayer: TxSender, sessions) -> None:
    _signed_grants(chain, ledger, relayer, 2)
    indexer = _indexer(chain, sessions, confirmations=3)
    for _ in range(2):
        chain.rpc.request("evm_mine", [])
        assert indexer.run_once().events == 0
    assert _rows(sessions) == []
    chain.rpc.request("evm_mine", [])
    step = indexer.run_once()
    assert (step.events, step.to_block) == (2, chain.rpc.block_number() - 3)


def test_reorg_rewinds_to_the_fork_and_ends_canonical(
    chain, ledger: Ledger, relayer: TxSender, sessions, fresh
) -> None:
    _signed_grants(chain, ledger, relayer, 2)
    fork_block = chain.rpc.block_number()
    snapshot = chain.rpc.request("evm_snapshot")
    orphaned = [_signed_grants(chain, ledger, relayer, 3) for _ in range(3)]
    indexer = _indexer(chain, sessions, chunk=2)
    assert indexer.run_once().events == 11
    old_head, top_id = chain.rpc.block_number(), history(sessions, limit=1000)[-1]["id"]

    assert chain.rpc.request("evm_revert", [snapshot]) is True
    relayer.resync()
    chain.travel_to(chain.now() + 1_000)  # other timestamps: other block hashes from here on
    canonical = [_signed_grants(chain, ledger, relayer, 1) for _ in range(5)]
    assert chain.rpc.block_number() > old_head
    step = indexer.run_once()
    assert step.rewound_to == fork_block
    assert step.from_block == fork_block + 1
    customers = [r["customer"] for r in _rows(sessions)]
    assert set(customers[2:]) == {c for batch in canonical for c in batch}
    assert not set(customers) & {c for batch in orphaned for c in batch}
    assert all(row["id"] > top_id for row in history(sessions)[2:])  # ids never reused: paging stays monotonic
    _indexer(chain, fresh).backfill()
    assert _rows(sessions) == _rows(fresh)


def test_node_restart_below_the_cursor_rewinds(chain, ledger: Ledger, relayer: TxSender, sessions, fresh) -> None:
    snapshot = chain.rpc.request("evm_snapshot")
    _signed_grants(chain, ledger, relayer, 2)
    indexer = _indexer(chain, sessions)
    assert indexer.run_once().events == 2
    cursor = indexer.cursor()
    assert cursor is not None
    assert chain.rpc.request("evm_revert", [snapshot]) is True  # as if the node lost its last blocks
    relayer.resync()
    assert chain.rpc.block_number() < cursor[0]
    step = indexer.run_once()
    assert step.rewound_to == chain.deployment.deploy_block - 1  # nothing stored was still canonical
    assert _rows(sessions) == []
    assert indexer.cursor() == (chain.rpc.block_number(), chain.rpc.get_block("latest")["hash"])
    chain.travel(5)
    _signed_grants(chain, ledger, relayer, 3)
    assert indexer.run_once().events == 3
    _indexer(chain, fresh).backfill()
    assert _rows(sessions) == _rows(fresh)


def test_incremental_equals_backfill_and_reruns_add_nothing(
    chain, ledger: Ledger, relayer: TxSender, sessions, fresh
) -> None:
    indexer = _indexer(chain, sessions, chunk=3)
    brand = new_account().address
    for size in (4, 1, 6):
        _signed_grants(chain, ledger, relayer, size, brand)
        chain.travel(60)
        indexer.run_once()
    cursor, rows = indexer.cursor(), _rows(sessions)
    assert len(rows) == 11
    again = _indexer(chain, sessions).run_once()  # a restarted process
    assert (again.events, again.from_block, again.to_block) == (0, cursor[0] + 1, cursor[0])
    assert (indexer.cursor(), _rows(sessions)) == (cursor, rows)
    seen: list[tuple[int, int]] = []
    step = _indexer(chain, fresh, chunk=4).backfill(lambda done, total: seen.append((done, total)))
    assert step.events == 11
    assert _rows(fresh) == rows
    total = cursor[0] - chain.deployment.deploy_block + 1
    assert seen[0] == (0, total)
    assert seen[-1] == (total, total)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_a_crash_mid_chunk_leaves_cursor_and_rows_consistent(
    chain, ledger: Ledger, relayer: TxSender, sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    _signed_grants(chain, ledger, relayer, 3)
    indexer = _indexer(chain, sessions)

    def crash(*_args: object) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(indexer, "_set_cursor", crash)  # rows inserted, then the process dies
    with pytest.raises(RuntimeError, match="power cut"):
        indexer.run_once()
    monkeypatch.undo()
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ChainEvent)) == 0
        assert session.get(IndexerCursor, 1) is None
    assert indexer.run_once().events == 3
    assert len(_rows(sessions)) == 3


def test_background_thread_follows_new_blocks(chain, ledger: Ledger, relayer: TxSender, sessions) -> None:
    indexer = _indexer(chain, sessions)
    indexer.start(0.02)
    try:
        customers = _signed_grants(chain, ledger, relayer, 2)
        deadline = time.monotonic() + 10
        while len(_rows(sessions)) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        indexer.stop()
    assert [r["customer"] for r in _rows(sessions)] == customers


def test_refuses_a_database_of_another_contract(chain, sessions) -> None:
    _indexer(chain, sessions).run_once()
    other = Indexer(chain.rpc, new_account().address, 0, sessions)
    with pytest.raises(ConfigError, match="indexes contract"):
        other.run_once()


def test_a_reorg_during_a_fetch_writes_nothing_then_recovers(
    chain, ledger: Ledger, relayer: TxSender, sessions, fresh, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = chain.rpc.request("evm_snapshot")
    orphaned = _signed_grants(chain, ledger, relayer, 3)
    indexer = _indexer(chain, sessions)
    read_logs = indexer.reader.logs

    def reorg_then_read(start: int, stop: int):
        monkeypatch.setattr(indexer.reader, "logs", read_logs)  # only the first read races a reorg
        assert chain.rpc.request("evm_revert", [snapshot]) is True
        relayer.resync()
        chain.travel_to(chain.now() + 500)
        _signed_grants(chain, ledger, relayer, 2)
        return read_logs(start, stop)

    monkeypatch.setattr(indexer.reader, "logs", reorg_then_read)
    step = indexer.run_once()
    assert (step.events, step.caught_up, indexer.cursor(), _rows(sessions)) == (0, False, None, [])
    assert indexer.backfill().events == 2
    assert not {r["customer"] for r in _rows(sessions)} & set(orphaned)
    _indexer(chain, fresh).backfill()
    assert _rows(sessions) == _rows(fresh)


def test_a_range_the_node_refuses_is_halved(
    chain, ledger: Ledger, relayer: TxSender, sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(3):
        _signed_grants(chain, ledger, relayer, 2)
    indexer = _indexer(chain, sessions)
    request, spans = chain.rpc.request, []

    def limited(method: str, params=None, *, slow: bool = False):
        if method == "eth_getLogs":
            span = int(params[0]["toBlock"], 16) - int(params[0]["fromBlock"], 16) + 1
            spans.append(span)
            if span > 2:
                raise RpcError(method, -32005, "query returned more than 10000 results")
        return request(method, params, slow=slow)

    monkeypatch.setattr(chain.rpc, "request", limited)
    assert indexer.backfill().events == 6
    assert max(spans) > 2
    assert len(_rows(sessions)) == 6


def test_index_command_builds_everything_from_settings(
    chain, ledger: Ledger, relayer: TxSender, migrated_url: str, tmp_path
) -> None:
    customers = _signed_grants(chain, ledger, relayer, 2)
    said: list[str] = []
    index_command(api_settings(chain, migrated_url, tmp_path), follow=False, progress=said.append)
    assert said[-1].startswith(f"indexed blocks {chain.deployment.deploy_block}..{chain.rpc.block_number()}: 2 events")
    engine = make_engine(migrated_url)
    try:
        assert [r["customer"] for r in _rows(make_session_factory(engine))] == customers
    finally:
        engine.dispose()
