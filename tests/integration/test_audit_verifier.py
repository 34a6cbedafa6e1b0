"""The independent verifier: an exported log and the chain, nothing else. A clean log passes; every
kind of tampering, and every release no grant covered at its block, is caught: each check the
verifier reports is made to fail here by the fault it exists for."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from eth_account import Account

from api_support import PROFILE
from consent_ledger.audit import export_file
from consent_ledger.audit.errors import AuditError
from consent_ledger.audit.leaf import Leaf, fields_digest
from consent_ledger.audit.log import Anchor
from consent_ledger.audit.verifier import verify_log
from consent_ledger.cli.main import main
from consent_ledger.errors import ChainError

pytestmark = pytest.mark.chain


def _export(api, path: Path, anchor: bool = True) -> Path:
    context = api.context
    if anchor:
        context.anchorer.anchor_now()
    exported = context.access_log.export(
        context.deployment.chain_id,
        context.ledger.address,
        context.anchorer.sender.address,
        context.deployment.deploy_block,
    )
    export_file.write(path, exported)
    return path


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _rewrite(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _verify(api, path: Path):
    return verify_log(api.context.ledger.rpc, export_file.read(path))


def _kinds(report) -> set[str]:
    return {v.kind for v in report.violations}


@pytest.fixture
def logged(api, tmp_path):
    """Two customers, three releases, anchored; the exported file."""
    brand, brand_auth = api.brand()
    customers = []
    for _ in range(2):
        customer, auth = api.customer()
        api.client.put("/v1/me/data", json={"fields": PROFILE}, headers=auth)
        api.grant(customer, auth, brand.address, ["contact.email", "interests"], ["marketing.email"])
        customers.append((customer, auth))
    api.relay()
    body = {"categories": ["contact.email"], "purpose": "marketing.email"}
    for customer in (customers[0][0], customers[1][0], customers[0][0]):
        reply = api.client.post("/v1/releases", json={"customers": [customer.address], **body}, headers=brand_auth)
        assert reply.json()["released"], reply.text
    return brand, customers, _export(api, tmp_path / "log.jsonl")


def test_a_clean_log_verifies(api, chain, logged, capsys) -> None:
    _, _, path = logged
    assert main(["audit", "verify", "--rpc", chain.rpc.url, "--log", str(path)]) == 0
    out = capsys.readouterr().out
    assert "3 leaves, 1 on-chain anchors, 3 releases re-checked" in out
    assert "OK" in out


def test_modified_leaf(api, chain, logged, capsys) -> None:
    _, _customers, path = logged
    rows = _lines(path)
    leaf = bytearray.fromhex(rows[2]["leaf"][2:])
    leaf[57 + 7] ^= 0x02  # the released categories now claim one more category
    rows[2]["leaf"] = "0x" + leaf.hex()
    _rewrite(path, rows)
    assert main(["audit", "verify", "--rpc", chain.rpc.url, "--log", str(path)]) == 1
    assert "anchor_root_mismatch" in capsys.readouterr().out


def test_deleted_leaf(api, logged) -> None:
    _, _, path = logged
    rows = _lines(path)
    del rows[2]
    for n, row in enumerate(r for r in rows if r.get("type") == "leaf"):
        row["index"] = n
    _rewrite(path, rows)
    assert "anchor_beyond_log" in _kinds(_verify(api, path))


def test_swapped_leaves(api, logged) -> None:
    _, _, path = logged
    rows = _lines(path)
    rows[1]["leaf"], rows[2]["leaf"] = rows[2]["leaf"], rows[1]["leaf"]
    _rewrite(path, rows)
    assert "anchor_root_mismatch" in _kinds(_verify(api, path))


def test_leaf_appended_after_anchoring_without_a_new_anchor(api, logged) -> None:
    _, _, path = logged
    rows = _lines(path)
    extra = dict(rows[1])
    extra["index"] = 3
    rows.insert(4, extra)
    _rewrite(path, rows)
    report = _verify(api, path)
    assert _kinds(report) == {"unanchored_leaves"}
    assert report.violations[0].leaf == 3


def test_anchored_root_that_does_not_match(api, logged, tmp_path) -> None:
    brand, customers, _ = logged
    # The custodian anchors a root that is not the log's (a rewritten history, say) at the next size.
    context = api.context
    context.ledger.anchor(context.anchorer.sender.signer, bytes.fromhex("ee" * 32), 3 + 1)
    brand_auth = api.sign_in(brand)
    api.client.post(
        "/v1/releases",
        json={"customers": [customers[1][0].address], "categories": ["contact.email"], "purpose": "marketing.email"},
        headers=brand_auth,
    )
    path = _export(api, tmp_path / "wrong-root.jsonl", anchor=False)
    assert "anchor_root_mismatch" in _kinds(_verify(api, path))


def _rogue_release(
    api, customer: str, brand: str, block: dict, category: str = "contact.email", purpose: str = "marketing.email"
) -> None:
    """A release written straight into the log, bypassing the gatekeeper (a misbehaving backend)."""
    leaf = Leaf(
        receipt_id=str(uuid.uuid4()),
        customer=customer,
        brand=brand,
        categories=api.context.catalog.category_mask([category]),
        purposes=api.context.catalog.purpose_mask([purpose]),
        block_number=int(block["number"], 16),
        block_hash=block["hash"],
        released_at=int(datetime.now(UTC).timestamp()),
        fields_hash=fields_digest(["email"]),
    )
    with api.context.sessions() as session:
        api.context.access_log.append_and_commit(session, [leaf])


def test_release_for_a_customer_with_no_grant(api, logged, tmp_path) -> None:
    brand, _, _ = logged
    stranger, _ = api.customer()
    _rogue_release(api, stranger.address, brand.address, api.context.ledger.rpc.get_block("latest"))
    path = _export(api, tmp_path / "rogue.jsonl")
    report = _verify(api, path)
    assert _kinds(report) == {"release_without_grant"}
    assert report.violations[0].leaf == 3
    assert stranger.address in report.violations[0].detail


def test_release_of_data_granted_only_for_another_purpose(api, logged, tmp_path) -> None:
    brand, _, _ = logged
    customer, auth = api.customer()
    terms = [
        {"purpose": "marketing.email", "categories": ["contact.email"]},
        {"purpose": "tcf.measure_ad_performance", "categories": ["purchase_history"]},
    ]
    typed = api.client.post("/v1/me/typed-data/grant", json={"brand": brand.address, "terms": terms}, headers=auth)
    signature = "0x" + Account.sign_typed_data(customer.key, full_message=typed.json()).signature.hex()
    body = {"kind": "grant", "message": typed.json()["message"], "signature": signature}
    assert api.client.post("/v1/me/submissions", json=body, headers=auth).status_code == 202
    api.relay()
    block = api.context.ledger.rpc.get_block("latest")
    _rogue_release(api, customer.address, brand.address, block, "purchase_history", "tcf.measure_ad_performance")
    _rogue_release(api, customer.address, brand.address, block, "purchase_history", "marketing.email")  # not for it
    report = _verify(api, _export(api, tmp_path / "purposes.jsonl"))
    assert [(v.kind, v.leaf) for v in report.violations] == [("release_without_grant", 4)]


def test_release_recorded_after_the_grant_was_revoked(api, chain, logged, tmp_path) -> None:
    brand, customers, _ = logged
    customer, auth = customers[0]
    before = api.context.ledger.rpc.get_block("latest")
    api.revoke(customer, auth, brand.address)
    api.relay()
    after = api.context.ledger.rpc.get_block("latest")
    _rogue_release(api, customer.address, brand.address, before)  # decided before the revoke: fine
    _rogue_release(api, customer.address, brand.address, after)  # after the revoke: a violation
    report = _verify(api, _export(api, tmp_path / "late.jsonl"))
    assert [(v.kind, v.leaf) for v in report.violations] == [("release_without_grant", 4)]


def test_release_at_a_block_that_is_not_canonical(api, logged, tmp_path) -> None:
    brand, customers, _ = logged
    block = dict(api.context.ledger.rpc.get_block("latest"))
    block["hash"] = "0x" + "ab" * 32
    _rogue_release(api, customers[0][0].address, brand.address, block)
    assert _kinds(_verify(api, _export(api, tmp_path / "fork.jsonl"))) == {"block_not_canonical"}


def test_unreadable_files(tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("")
    with pytest.raises(AuditError, match="empty"):
        export_file.read(bad)
    bad.write_text('{"format": "something else"}\n')
    with pytest.raises(AuditError, match="not a consent-ledger-access-log file of version 1 or 2"):
        export_file.read(bad)
    bad.write_text(
        '{"format": "consent-ledger-access-log", "version": 1, "chain_id": 1, "contract": "0x", "custodian": "0x",'
        ' "from_block": 0}\n{"type": "leaf", "index": 0}\n'
    )
    with pytest.raises(AuditError, match="malformed leaf"):
        export_file.read(bad)


def _release_and_anchor(api, brand, customer) -> None:
    """One more release (leaf 3), anchored: the custodian then holds anchors at sizes 3 and 4."""
    reply = api.client.post(
        "/v1/releases",
        json={"customers": [customer.address], "categories": ["contact.email"], "purpose": "marketing.email"},
        headers=api.sign_in(brand),
    )
    assert reply.json()["released"], reply.text
    api.context.anchorer.anchor_now()


def test_a_listed_anchor_that_is_not_on_chain(api, logged) -> None:
    _, _, path = logged
    rows = _lines(path)
    anchor = next(r for r in rows if r.get("type") == "anchor")
    anchor["root"] = "0x" + "12" * 32  # the custodian claims an anchor the chain never saw
    _rewrite(path, rows)
    assert _kinds(_verify(api, path)) == {"anchor_not_on_chain"}


def test_a_leaf_line_out_of_place(api, logged) -> None:
    _, _, path = logged
    rows = _lines(path)
    rows[2]["index"] = 5
    _rewrite(path, rows)
    report = _verify(api, path)
    assert ("log_structure", 1) in [(v.kind, v.leaf) for v in report.violations]


def test_a_leaf_that_does_not_decode(api, logged) -> None:
    _, _, path = logged
    rows = _lines(path)
    rows[3]["leaf"] = rows[3]["leaf"][:-2]  # one byte short of the fixed layout
    _rewrite(path, rows)
    report = _verify(api, path)
    assert ("log_structure", 2) in [(v.kind, v.leaf) for v in report.violations]


def test_consistency_between_anchors_is_checked_from_the_custodians_proof(api, logged) -> None:
    brand, customers, _ = logged
    _release_and_anchor(api, brand, customers[1][0])
    path = _export(api, logged[2].parent / "two-anchors.jsonl", anchor=False)
    assert _verify(api, path).ok
    rows = _lines(path)
    (proof,) = [r for r in rows if r.get("type") == "consistency"]
    assert (proof["first"], proof["second"]) == (3, 4)
    proof["proof"][0] = "0x" + "00" * 32  # a proof that does not lead from root 3 to root 4
    _rewrite(path, rows)
    assert _kinds(_verify(api, path)) == {"inconsistent_anchors"}
    _rewrite(path, [r for r in rows if r.get("type") != "consistency"])
    assert _kinds(_verify(api, path)) == {"consistency_proof_missing"}


def test_consistency_is_checked_where_the_leaves_do_not_reach(api, logged) -> None:
    """With the file cut after leaf 2, the anchor at size 4 cannot be recomputed; the custodian's
    proof still shows the two anchored roots belong to one growing log, unless it is bent."""
    brand, customers, path = logged
    _release_and_anchor(api, brand, customers[1][0])
    path = _export(api, path.parent / "cut.jsonl", anchor=False)
    rows = [r for r in _lines(path) if not (r.get("type") == "leaf" and r["index"] == 3)]
    _rewrite(path, rows)
    assert _kinds(_verify(api, path)) == {"anchor_beyond_log"}
    proof = next(r for r in rows if r.get("type") == "consistency")
    proof["proof"] = proof["proof"][:-1]
    _rewrite(path, rows)
    assert _kinds(_verify(api, path)) == {"anchor_beyond_log", "inconsistent_anchors"}


def test_a_custodian_that_anchors_a_root_which_does_not_extend_its_last_one(api, logged, tmp_path) -> None:
    brand, customers, _ = logged
    context = api.context
    reply = api.client.post(
        "/v1/releases",
        json={"customers": [customers[1][0].address], "categories": ["contact.email"], "purpose": "marketing.email"},
        headers=api.sign_in(brand),
    )
    assert reply.json()["released"], reply.text
    # The custodian rewrites history: at size 4 it anchors (and records) a root that is not its log's.
    result = context.ledger.anchor(context.anchorer.sender.signer, bytes.fromhex("ee" * 32), 4)
    (event,) = result.events
    context.access_log.record_anchor(
        Anchor(
            4,
            "0x" + "ee" * 32,
            context.anchorer.sender.address,
            event.at.tx_hash,
            event.at.block_number,
            event.at.block_hash,
            datetime.now(UTC),
        )
    )
    report = _verify(api, _export(api, tmp_path / "forked.jsonl", anchor=False))
    assert _kinds(report) == {"inconsistent_anchors", "anchor_root_mismatch"}


def test_a_log_for_another_chain_is_not_verified(api, logged) -> None:
    _, _, path = logged
    rows = _lines(path)
    rows[0]["chain_id"] = 1
    _rewrite(path, rows)
    with pytest.raises(ChainError, match="the log is for chain 1"):
        _verify(api, path)


def test_the_cli_export_carries_the_proofs_the_verifier_checks(api, chain, logged, tmp_path, monkeypatch, capsys):
    brand, customers, _ = logged
    _release_and_anchor(api, brand, customers[1][0])
    settings = api.context.settings
    monkeypatch.setenv("CONSENT_RPC_URL", chain.rpc.url)
    monkeypatch.setenv("CONSENT_DEPLOYMENTS_DIR", str(chain.deployments_dir))
    monkeypatch.setenv("CONSENT_DATABASE_URL", str(settings.database_url))
    monkeypatch.setenv("CONSENT_VAR_DIR", str(settings.var_path))
    out = tmp_path / "cli.jsonl"
    assert main(["audit", "export", "--out", str(out)]) == 0
    assert f"wrote 4 leaves, 2 anchors and 1 consistency proofs to {out}" in capsys.readouterr().err
    assert main(["audit", "verify", "--rpc", chain.rpc.url, "--log", str(out)]) == 0
    assert "4 leaves, 2 on-chain anchors" in capsys.readouterr().out
