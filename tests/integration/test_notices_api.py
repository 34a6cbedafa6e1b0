"""A customer's revocation and erasure as each brand was told of them: GET /v1/me/notices (each step with
its leaf and an inclusion proof to the anchored root), the auditor's GET /v1/audit/unacknowledged, and the
verifier's `not_told` violations and `unacknowledged` reports after the window, on the real chain."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api_support import AUDITOR, release_to, with_a_grant
from consent_ledger.audit.leaf import decode_any
from consent_ledger.audit.merkle import leaf_hash
from consent_ledger.audit.verifier import verify_log
from consent_ledger.audit.verify import verify_inclusion
from consent_ledger.propagation.steps import PropagationStep, parse_event_id, record_step

pytestmark = pytest.mark.chain
DAY = 86_400


def _revoked(api, brand, customer, auth) -> dict:
    api.revoke(customer, auth, brand.address)
    api.relay()
    api.context.indexer.backfill()
    (event,) = [e for e in api.context.audit.all_history(customer=customer.address) if e["kind"] == "revoked"]
    return event


def _record(api, step: PropagationStep) -> int:
    with api.context.sessions() as session:
        index = record_step(session, step)
        session.commit()
    return index


def _at(stamp: int) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)


def _notices(api, auth) -> dict:
    reply = api.client.get("/v1/me/notices", headers=auth)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _waiting(api) -> dict:
    reply = api.client.get("/v1/audit/unacknowledged", headers=api.sign_in(AUDITOR))
    assert reply.status_code == 200, reply.text
    return reply.json()


def _verify(api):
    api.context.anchorer.anchor_now()
    return verify_log(api.context.ledger.rpc, api.context.audit.export())


def _check_proof(step: dict, head: dict) -> None:
    leaf = bytes.fromhex(step["leaf"][2:])
    proof = [bytes.fromhex(p[2:]) for p in step["proof"]]
    verify_inclusion(leaf_hash(leaf), step["leaf_index"], head["size"], proof, bytes.fromhex(head["root"][2:]))


def test_a_revocation_told_then_acknowledged(api, chain) -> None:
    brand, brand_auth, customer, auth = with_a_grant(api)
    release_to(api, brand_auth, customer.address)
    event = _revoked(api, brand, customer, auth)
    occurred = int(datetime.fromisoformat(event["timestamp"]).timestamp())  # the block's timestamp

    (notice,) = _notices(api, auth)["notices"]
    assert (notice["event_type"], notice["brand"], notice["brand_name"]) == (
        "consent.revoked",
        brand.address,
        "Acme Outdoor",
    )
    assert (notice["owed"], notice["told"], notice["acknowledged"], notice["settled"]) == (True, None, None, False)
    assert (notice["block_number"], notice["tx_hash"]) == (event["block_number"], event["tx_hash"])
    (waiting,) = _waiting(api)["brands"]
    assert (waiting["brand"], waiting["not_told"], waiting["unacknowledged"]) == (brand.address, 1, 0)
    assert waiting["notices"][0]["customer"] == customer.address

    assert _verify(api).ok  # within the window: nothing to say yet
    chain.travel(2 * DAY)
    report = _verify(api)
    assert [v.kind for v in report.violations] == ["not_told"]
    assert brand.address in report.violations[0].detail
    assert _waiting(api)["brands"][0]["longest_wait_seconds"] >= 2 * DAY

    event_id = parse_event_id("evt_" + "5e" * 32)
    told = _record(
        api,
        PropagationStep.delivered(
            "consent.revoked", event_id, customer.address, brand.address, _at(occurred), _at(chain.now())
        ),
    )
    api.context.anchorer.anchor_now()
    body = _notices(api, auth)
    (notice,) = body["notices"]
    assert notice["told"]["leaf_index"] == told
    assert notice["told"]["anchored"]
    assert notice["event_id"] == notice["told"]["event_id"] == "evt_" + "5e" * 32
    assert decode_any(bytes.fromhex(notice["told"]["leaf"][2:])).step == "delivered"  # type: ignore[union-attr]
    _check_proof(notice["told"], body["tree_head"])
    assert _waiting(api)["brands"][0]["unacknowledged"] == 1
    chain.travel(2 * DAY)
    report = _verify(api)
    assert report.violations == []
    assert report.ok
    assert [u.kind for u in report.unacknowledged] == ["unacknowledged"]
    assert report.unacknowledged[0].leaf == told
    assert report.summary()["notices_owed"] == 1

    acked = _record(
        api,
        PropagationStep.acknowledged(
            "consent.revoked",
            event_id,
            customer.address,
            brand.address,
            _at(occurred),
            _at(chain.now()),
            "stopped_processing",
        ),
    )
    api.context.anchorer.anchor_now()
    body = _notices(api, auth)
    (notice,) = body["notices"]
    assert notice["settled"]
    assert notice["acknowledged"]["ack"] == "stopped_processing"
    assert notice["acknowledged"]["leaf_index"] == acked
    _check_proof(notice["acknowledged"], body["tree_head"])
    assert _waiting(api)["brands"] == []
    report = _verify(api)
    assert report.ok
    assert report.unacknowledged == []
    assert report.summary()["propagation_steps"] == {"acknowledged": 1, "delivered": 1}


def test_an_erasure_is_owed_to_every_brand_that_received_the_data(api, chain) -> None:
    brand, brand_auth, customer, auth = with_a_grant(api)
    release_to(api, brand_auth, customer.address)
    other, _ = api.brand("Other Brand")  # received nothing: owed nothing
    assert api.client.delete("/v1/me/data", params={"confirm": "ERASE"}, headers=auth).status_code == 200
    api.context.indexer.backfill()
    (notice,) = _notices(api, auth)["notices"]
    assert (notice["event_type"], notice["brand"], notice["owed"]) == ("data.erased", brand.address, True)
    exported = api.context.audit.export()
    assert [c for c, _ in exported.erasures] == [customer.address]
    chain.travel(2 * DAY)
    report = _verify(api)
    assert [v.kind for v in report.violations] == ["not_told"]
    assert "erasure" in report.violations[0].detail
    assert other.address not in report.violations[0].detail


def test_another_customers_notices_stay_hidden(api) -> None:
    brand, brand_auth, customer, auth = with_a_grant(api)
    release_to(api, brand_auth, customer.address)
    _revoked(api, brand, customer, auth)
    _, stranger = api.customer()
    assert _notices(api, stranger)["notices"] == []
    assert len(_notices(api, auth)["notices"]) == 1
    assert api.client.get("/v1/audit/unacknowledged", headers=auth).status_code == 403
    assert api.client.get("/v1/me/notices").status_code == 401
