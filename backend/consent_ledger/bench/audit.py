"""Audit benchmark: indexer ingest (ours vs web3.py decoding), access-log appends/s through the real
transaction path, inclusion proofs/s, and `audit verify` wall time for 100,000 releases.

The verify run uses a throwaway anvil: 1,000 customers grant a brand (batches of 200), then
100,000 release leaves spread over 20 blocks are written to a log file, the custodian anchors the
root on-chain, and `verify_log` re-checks everything from the file and the chain alone.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from eth_account import Account

from consent_ledger.audit import export_file
from consent_ledger.audit.leaf import Leaf, fields_digest
from consent_ledger.audit.log import AccessLog
from consent_ledger.audit.merkle import MerkleTree, leaf_hash
from consent_ledger.audit.verifier import verify_log
from consent_ledger.bench.chain import throwaway_chain
from consent_ledger.bench.gas import CATEGORIES, ONE_PURPOSE, SignedGrants
from consent_ledger.bench.index import index_report
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.config import ANVIL_DEFAULT_KEY, Settings
from consent_ledger.db.engine import make_engine, make_session_factory
from consent_ledger.db.migrate import upgrade

Progress = Callable[[str], None]


def _leaf(customer: str, brand: str, block: dict[str, Any]) -> Leaf:
    return Leaf(
        receipt_id=str(uuid.uuid4()),
        customer=customer,
        brand=brand,
        categories=CATEGORIES,
        purposes=ONE_PURPOSE[0].bit,
        block_number=int(block["number"], 16),
        block_hash=str(block["hash"]),
        released_at=int(block["timestamp"], 16),
        fields_hash=fields_digest(["email", "phone"]),
    )


def _log_figures(tmp: Path, progress: Progress, appends: int = 20_000, batch: int = 100) -> dict[str, Any]:
    progress(f"appending {appends} leaves to the access log in SQLite, {batch} per transaction")
    url = f"sqlite:///{tmp / 'log.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        log = AccessLog(make_session_factory(engine))
        block = {"number": "0x10", "hash": "0x" + "ab" * 32, "timestamp": hex(int(time.time()))}
        brand = Account.create().address
        leaves = [_leaf(Account.create().address, brand, block) for _ in range(appends)]
        sessions = make_session_factory(engine)
        began = time.perf_counter()
        for start in range(0, appends, batch):
            with sessions() as session:
                log.append_and_commit(session, leaves[start : start + batch])
        appends_per_s = appends / (time.perf_counter() - began)
        progress(f"inclusion proofs from the stored tree at size {appends:,}")
        rng = random.Random(9)  # noqa: S311 -- which leaves to prove
        stored = [rng.randrange(appends) for _ in range(2_000)]
        began = time.perf_counter()
        for index in stored:
            log.inclusion_proof(index, appends)
        stored_proofs_per_s = len(stored) / (time.perf_counter() - began)
    finally:
        engine.dispose()
    progress("inclusion proofs in memory at size 100,000 (as the verifier computes them)")
    tree = MerkleTree(leaf_hash(i.to_bytes(8, "big")) for i in range(100_000))
    rng = random.Random(3)  # noqa: S311 -- which leaves to prove
    indexes = [rng.randrange(100_000) for _ in range(20_000)]
    began = time.perf_counter()
    for index in indexes:
        tree.inclusion_proof(index, 100_000)
    proofs_per_s = len(indexes) / (time.perf_counter() - began)
    return {
        "log_appends_per_s": round(appends_per_s),
        "stored_proofs_per_s": round(stored_proofs_per_s),
        "proofs_per_s": round(proofs_per_s),
    }


def _verify_figure(settings: Settings, releases: int, progress: Progress) -> dict[str, Any]:
    with throwaway_chain(settings, "consent-verify-bench-") as chain:
        ledger, rpc = chain.ledger, chain.rpc
        run = SignedGrants(ledger, ANVIL_DEFAULT_KEY)
        customers = [Account.create() for _ in range(1_000)]
        progress("granting 1,000 customers")
        for start in range(0, len(customers), 200):
            ledger.grant_batch(run.relayer, [run.signed_grant(c) for c in customers[start : start + 200]])
        blocks = []
        for _ in range(20):
            rpc.request("evm_mine", [])
            blocks.append(rpc.get_block("latest"))
        progress(f"writing {releases} release leaves and anchoring the root")
        leaves = [
            _leaf(customers[n % len(customers)].address, run.brand, blocks[n % len(blocks)]) for n in range(releases)
        ]
        encoded = [leaf.encode() for leaf in leaves]
        tree = MerkleTree(leaf_hash(data) for data in encoded)
        custodian = ledger.sender(ANVIL_DEFAULT_KEY)
        ledger.anchor(custodian, tree.root(), tree.size)
        path = chain.root / "log.jsonl"
        exported = export_file.LogFile(
            chain.deployment.chain_id,
            ledger.address,
            custodian.address,
            chain.deployment.deploy_block,
            leaves=list(enumerate(encoded)),
            anchors=[{"size": tree.size, "root": "0x" + tree.root().hex()}],
        )
        export_file.write(path, exported)
        progress(f"verifying {releases} releases from the file and the chain")
        began = time.perf_counter()
        report = verify_log(RpcClient(chain.url), export_file.read(path))
        seconds = time.perf_counter() - began
    return {
        f"verify_{releases // 1000}k_s": round(seconds, 2),
        "verify_ok": report.ok,
        "verify_releases_checked": report.releases_checked,
    }


def audit_report(
    settings: Settings, events: int = 50_000, releases: int = 100_000, progress: Progress = lambda _: None
) -> dict[str, Any]:
    index = index_report(settings, events, progress)
    with TemporaryDirectory(prefix="consent-audit-bench-") as tmp:
        log = _log_figures(Path(tmp), progress)
        verify = _verify_figure(settings, releases, progress)
    return {
        "index_events_per_s": index["index_events_per_s"],
        "web3_index_events_per_s": index.get("web3_decode_events_per_s"),
        **{k: v for k, v in index.items() if k not in {"index_events_per_s"}},
        **log,
        **verify,
    }
