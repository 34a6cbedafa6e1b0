"""The access log through the API: leaves per release, anchors on-chain, proofs a reader can check."""

from __future__ import annotations

import csv
import io

import pytest

from api_support import AUDITOR, release_to, with_a_grant
from consent_ledger.audit.leaf import decode, fields_digest
from consent_ledger.audit.merkle import leaf_hash
from consent_ledger.audit.verify import verify_consistency, verify_inclusion

pytestmark = pytest.mark.chain


def test_each_release_is_a_leaf_and_anchors_land_on_chain(api) -> None:
    brand, brand_auth, customer, _auth = with_a_grant(api)
    body = release_to(api, brand_auth, customer.address)
    log = api.context.access_log
    assert log.size == 1
    leaf = decode(log.leaf(0))
    assert leaf.receipt_id == body["released"][0]["receipt_id"]
    assert (leaf.customer, leaf.brand) == (customer.address, brand.address)
    assert leaf.block_number == body["block"]["number"]
    assert leaf.block_hash == body["block"]["hash"]
    assert leaf.fields_hash == fields_digest(["email", "interests"])

    anchor = api.context.anchorer.anchor_now()
    assert anchor is not None
    assert api.context.anchorer.anchor_now() is None  # nothing new
    ledger = api.context.ledger
    assert (
        "0x" + ledger.root_at(api.context.anchorer.sender.address, 1).hex() == anchor.root == ("0x" + log.root(1).hex())
    )


def test_customer_sees_accesses_with_proofs_that_verify(api) -> None:
    _, brand_auth, customer, auth = with_a_grant(api)
    for _ in range(3):
        release_to(api, brand_auth, customer.address)
    not_anchored = api.client.get("/v1/me/accesses", headers=auth).json()
    assert not_anchored["tree_head"] is None
    assert len(not_anchored["accesses"]) == 3
    assert all(a["proof"] is None and a["anchored"] is False for a in not_anchored["accesses"])

    api.context.anchorer.anchor_now()
    body = api.client.get("/v1/me/accesses", headers=auth).json()
    head = body["tree_head"]
    onchain = api.context.ledger.root_at(api.context.anchorer.sender.address, head["size"])
    assert head["root"] == "0x" + onchain.hex()
    assert len(body["accesses"]) == 3
    for access in body["accesses"]:
        assert access["anchored"] is True
        assert access["fields"] == ["email", "interests"]
        proof = [bytes.fromhex(p[2:]) for p in access["proof"]]
        verify_inclusion(
            leaf_hash(bytes.fromhex(access["leaf"][2:])), access["leaf_index"], head["size"], proof, onchain
        )
    _other, other_auth = api.customer()
    assert api.client.get("/v1/me/accesses", headers=other_auth).json()["accesses"] == []


def test_auditor_endpoints(api, chain) -> None:
    _brand, brand_auth, customer, auth = with_a_grant(api)
    release_to(api, brand_auth, customer.address)
    first = api.context.anchorer.anchor_now()
    release_to(api, brand_auth, customer.address)
    release_to(api, brand_auth, customer.address)
    second = api.context.anchorer.anchor_now()
    assert first is not None
    assert second is not None
    api.context.indexer.backfill()
    auditor = api.sign_in(AUDITOR)

    head = api.client.get("/v1/audit/tree-head", headers=auditor).json()
    assert head["anchored"]["size"] == 3
    proof = api.client.get("/v1/audit/leaves/1", headers=auditor).json()
    verify_inclusion(
        bytes.fromhex(proof["leaf_hash"][2:]),
        1,
        proof["size"],
        [bytes.fromhex(p[2:]) for p in proof["proof"]],
        bytes.fromhex(proof["root"][2:]),
    )
    at_first = api.client.get("/v1/audit/leaves/0", params={"size": 1}, headers=auditor).json()
    assert at_first["root"] == first.root
    assert api.client.get("/v1/audit/leaves/1", params={"size": 1}, headers=auditor).status_code == 400
    assert api.client.get("/v1/audit/leaves/0", params={"size": 2}, headers=auditor).status_code == 404
    consistency = api.client.get("/v1/audit/consistency", params={"first": 1, "second": 3}, headers=auditor).json()
    verify_consistency(
        1,
        3,
        bytes.fromhex(first.root[2:]),
        bytes.fromhex(second.root[2:]),
        [bytes.fromhex(p[2:]) for p in consistency["proof"]],
    )

    history = api.client.get("/v1/audit/history", params={"customer": customer.address}, headers=auditor).json()
    kinds = [i["kind"] for i in history["items"]]
    assert kinds.count("granted") == 1
    assert kinds.count("released") == 3
    assert all(i["customer"] == customer.address for i in history["items"])
    paged = api.client.get("/v1/audit/history", params={"limit": 1}, headers=auditor).json()
    assert paged["next"] is not None
    rest = api.client.get("/v1/audit/history", params={"after": paged["next"]}, headers=auditor).json()
    everything = api.client.get("/v1/audit/history", headers=auditor).json()["items"]
    assert [i["id"] for i in paged["items"] + rest["items"]] == [i["id"] for i in everything]
    anchors = api.client.get("/v1/audit/history", params={"kind": "anchored"}, headers=auditor).json()["items"]
    assert [a["size"] for a in anchors] == [1, 3]

    exported = api.client.get("/v1/audit/export", params={"format": "csv"}, headers=auditor)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == len(everything)
    granted = [r for r in rows if r["kind"] == "granted"]
    assert granted
    assert all(r["terms"] == "marketing.email=contact.email,interests" for r in granted)
    assert api.client.get("/v1/audit/export", params={"format": "json"}, headers=auditor).json()["items"] == everything
    assert api.client.get("/v1/audit/export", params={"format": "xml"}, headers=auditor).status_code == 400

    receipts = api.client.get("/v1/audit/consent-receipts", params={"customer": customer.address}, headers=auditor)
    (receipt,) = receipts.json()["receipts"]
    assert receipt["version"] == "KI-CR-v1.1.0"
    assert receipt["piiPrincipalId"] == customer.address
    assert receipt["piiControllers"][0]["piiController"] == "Acme Outdoor"
    assert receipt["services"][0]["purposes"][0]["piiCategory"] == ["contact.email", "interests"]
    assert receipt["onChain"]["contract"] == chain.deployment.address
    assert receipt["noticeHash"] == api.context.catalog.notice.hash
    mine = api.client.get("/v1/me/consent-receipts", headers=auth).json()["receipts"]
    assert mine == [receipt]

    assert api.client.get("/v1/audit/verification", headers=auditor).status_code == 404
    result = api.client.post("/v1/audit/verification", headers=auditor).json()
    assert result["ok"] is True, result
    assert result["summary"]["releases_checked"] == 3
    assert api.client.get("/v1/audit/verification", headers=auditor).json() == result


def test_audit_endpoints_need_the_auditor_role(api) -> None:
    brand, brand_auth, customer, auth = with_a_grant(api)
    release_to(api, brand_auth, customer.address)
    other, other_auth = api.customer()  # someone else's grant, which must not show in `customer`'s history
    api.grant(other, other_auth, brand.address, ["contact.email"], ["marketing.email"])
    api.relay()
    api.context.indexer.backfill()
    for path in ("/v1/audit/leaves/0", "/v1/audit/history", "/v1/audit/export", "/v1/audit/consent-receipts"):
        assert api.client.get(path, headers=auth).status_code == 403, path
        assert api.client.get(path, headers=brand_auth).status_code == 403, path
    assert api.client.post("/v1/audit/verification", headers=auth).status_code == 403
    assert api.client.get("/v1/audit/tree-head", headers=auth).status_code == 200
    mine = api.client.get("/v1/me/history", headers=auth).json()["items"]
    assert sorted(i["kind"] for i in mine) == ["granted", "released"]
    assert {i["customer"] for i in mine} == {customer.address}
    theirs = api.client.get("/v1/me/history", headers=other_auth).json()["items"]
    assert [(i["kind"], i["customer"]) for i in theirs] == [("granted", other.address)]
