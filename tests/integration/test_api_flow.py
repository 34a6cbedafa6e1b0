"""The product's promise end to end through HTTP: no data leaves unless a valid grant is on-chain,
and only the granted fields leave."""

from __future__ import annotations

import json

import pytest
from eth_account import Account
from sqlalchemy import func, select

from api_support import PROFILE
from consent_ledger.chain.devnet import free_port
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.releases.models import ReleaseReceipt
from consent_ledger.services.gatekeeper import Gatekeeper

pytestmark = pytest.mark.chain

ALL = ["contact.email", "contact.phone", "interests", "location.coarse"]


def _with_data(api, profile=PROFILE):
    customer, auth = api.customer()
    assert api.client.put("/v1/me/data", json={"fields": profile}, headers=auth).status_code == 204
    return customer, auth


def _release(api, auth, customers, categories=ALL, purpose="marketing.email"):
    return api.client.post(
        "/v1/releases", json={"customers": customers, "categories": categories, "purpose": purpose}, headers=auth
    )


def test_grant_relay_release_revoke(api, chain) -> None:
    brand, brand_auth = api.brand()
    customer, auth = _with_data(api)

    submission = api.grant(customer, auth, brand.address, ["contact.email", "interests"], ["marketing.email"], days=30)
    assert submission["status"] == "accepted"
    status = api.client.get(f"/v1/me/submissions/{submission['id']}", headers=auth).json()
    assert status["status"] == "accepted"
    api.relay()
    status = api.client.get(f"/v1/me/submissions/{submission['id']}", headers=auth).json()
    assert status["status"] == "confirmed"
    assert status["tx_hash"].startswith("0x")

    grants = api.client.get("/v1/me/grants", headers=auth).json()["grants"]
    assert [(g["brand"], g["categories"], g["purposes"]) for g in grants] == [
        (brand.address, ["contact.email", "interests"], ["marketing.email"])
    ]

    reply = _release(api, brand_auth, [customer.address])
    assert reply.status_code == 200, reply.text
    body = reply.json()
    (released,) = body["released"]
    assert released["fields"] == {"email": "ada@example.org", "interests": "hiking, climbing"}
    assert released["categories"] == ["contact.email", "interests"]
    assert body["withheld"] == []
    block = chain.rpc.get_block(body["block"]["number"])
    assert block["hash"] == body["block"]["hash"]

    # The wrong purpose gets nothing, even for granted categories.
    other = _release(api, brand_auth, [customer.address], purpose="marketing.sms").json()
    assert other["released"] == []
    assert other["withheld"][0]["customer"] == customer.address

    # Receipts: the brand and the customer both see the release, with no values in it.
    receipts = api.client.get("/v1/releases", headers=brand_auth).json()["releases"]
    assert [r["receipt_id"] for r in receipts] == [released["receipt_id"]]
    assert receipts[0]["fields"] == ["email", "interests"]
    assert receipts[0]["block"] == {"number": body["block"]["number"], "hash": body["block"]["hash"]}
    mine = api.client.get("/v1/me/releases", headers=auth).json()["releases"]
    assert [r["brand"] for r in mine] == [brand.address]
    assert "ada@example.org" not in json.dumps(mine)

    api.revoke(customer, auth, brand.address)
    api.relay()
    after = _release(api, brand_auth, [customer.address]).json()
    assert after["released"] == []
    assert api.client.get("/v1/me/grants", headers=auth).json()["grants"] == []


def test_direct_revoke_from_the_wallet_stops_releases(api, chain) -> None:
    brand, brand_auth = api.brand()
    customer, auth = _with_data(api)
    api.grant(customer, auth, brand.address, ["contact.email"], ["marketing.email"])
    api.relay()
    assert _release(api, brand_auth, [customer.address]).json()["released"]
    chain.fund(customer.address)
    ledger: Ledger = api.context.ledger
    ledger.revoke(ledger.sender(customer.key), brand.address)  # no server involved
    assert _release(api, brand_auth, [customer.address]).json()["released"] == []


def test_expired_grant_releases_nothing(api, chain) -> None:
    brand, brand_auth = api.brand()
    customer, auth = _with_data(api)
    api.grant(customer, auth, brand.address, ["contact.email"], ["marketing.email"], days=1)
    api.relay()
    assert _release(api, brand_auth, [customer.address]).json()["released"]
    (grant,) = api.client.get("/v1/me/grants", headers=auth).json()["grants"]
    assert grant["expires_at"] - chain.now() >= 86_400 - 60
    chain.travel_to(grant["expires_at"])  # the first second it is no longer valid
    assert _release(api, brand_auth, [customer.address]).json()["released"] == []


def test_release_mixes_granted_denied_and_empty(api) -> None:
    brand, brand_auth = api.brand()
    granted, auth = _with_data(api)
    api.grant(granted, auth, brand.address, ALL, ["marketing.email"])
    no_data, no_data_auth = api.customer()
    api.grant(no_data, no_data_auth, brand.address, ALL, ["marketing.email"])
    stranger, _ = _with_data(api)
    api.relay()
    body = _release(api, brand_auth, [granted.address, no_data.address, stranger.address]).json()
    assert [r["customer"] for r in body["released"]] == [granted.address]
    assert set(body["released"][0]["fields"]) == set(PROFILE)
    reasons = {w["customer"]: w["reason"] for w in body["withheld"]}
    assert set(reasons) == {no_data.address, stranger.address}
    assert "no data" in reasons[no_data.address]
    assert "no grant" in reasons[stranger.address]


def test_brands_see_only_their_own(api) -> None:
    brand_a, auth_a = api.brand("A")
    _brand_b, auth_b = api.brand("B")
    customer, auth = _with_data(api)
    api.grant(customer, auth, brand_a.address, ["contact.email"], ["marketing.email"])
    api.relay()
    # B asks for a customer who granted only A: nothing, and A's receipt stays invisible to B.
    assert _release(api, auth_b, [customer.address]).json()["released"] == []
    assert _release(api, auth_a, [customer.address]).json()["released"]
    assert api.client.get("/v1/releases", headers=auth_b).json()["releases"] == []
    assert len(api.client.get("/v1/releases", headers=auth_a).json()["releases"]) == 1
    check = api.client.post(
        "/v1/permissions/check",
        json={
            "questions": [{"customer": customer.address, "categories": ["contact.email"], "purpose": "marketing.email"}]
        },
        headers=auth_b,
    ).json()
    assert check["answers"] == [False]


def test_roles_are_enforced(api) -> None:
    customer, auth = api.customer()
    assert (
        api.client.post(
            "/v1/releases",
            json={"customers": [customer.address], "categories": ["contact.email"], "purpose": "marketing.email"},
            headers=auth,
        ).status_code
        == 403
    )
    assert (
        api.client.get(
            "/v1/segments", params={"categories": "contact.email", "purpose": "marketing.email"}, headers=auth
        ).status_code
        == 403
    )
    assert api.client.get("/v1/me/data").status_code == 401
    assert api.client.get("/v1/me/data", headers={"Authorization": "Bearer nonsense"}).status_code == 401


def test_a_customer_cannot_act_for_another(api) -> None:
    brand, _ = api.brand()
    victim, victim_auth = _with_data(api)
    _attacker, attacker_auth = api.customer()
    typed = api.client.post(
        "/v1/me/typed-data/grant",
        json={"brand": brand.address, "categories": ["contact.email"], "purposes": ["marketing.email"]},
        headers=victim_auth,
    ).json()
    signature = Account.sign_typed_data(victim.key, full_message=typed).signature
    # Even with the victim's valid signature, the attacker's session may not submit it.
    reply = api.client.post(
        "/v1/me/submissions",
        json={"kind": "grant", "message": typed["message"], "signature": "0x" + signature.hex()},
        headers=attacker_auth,
    )
    assert reply.status_code == 403
    assert api.client.get("/v1/me/data", headers=attacker_auth).json() == {"fields": {}}
    submission = api.grant(victim, victim_auth, brand.address, ["contact.email"], ["marketing.email"])
    assert api.client.get(f"/v1/me/submissions/{submission['id']}", headers=attacker_auth).status_code == 404


def test_segments(api) -> None:
    brand, brand_auth = api.brand()
    members = []
    for _ in range(3):
        customer, auth = _with_data(api)
        api.grant(customer, auth, brand.address, ["contact.email", "interests"], ["marketing.email"])
        members.append(customer.address)
    outsider, outsider_auth = _with_data(api)
    api.grant(outsider, outsider_auth, brand.address, ["contact.email"], ["marketing.email"])
    api.relay()
    body = api.client.get(
        "/v1/segments",
        params={"categories": "contact.email,interests", "purpose": "marketing.email"},
        headers=brand_auth,
    ).json()
    assert sorted(body["customers"]) == sorted(members)
    assert body["block"]["number"] > 0


def test_chain_down_means_503_and_no_receipt(api) -> None:
    brand, brand_auth = api.brand()
    customer, auth = _with_data(api)
    api.grant(customer, auth, brand.address, ["contact.email"], ["marketing.email"])
    api.relay()
    context = api.context
    dead = Ledger(RpcClient(f"http://127.0.0.1:{free_port()}", timeout=1), context.ledger.address, [])
    context.releases.gatekeeper = Gatekeeper(dead)
    context.gatekeeper = context.releases.gatekeeper
    reply = _release(api, brand_auth, [customer.address])
    assert reply.status_code == 503
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert "ada@example.org" not in reply.text
    check = api.client.post(
        "/v1/permissions/check",
        json={
            "questions": [{"customer": customer.address, "categories": ["contact.email"], "purpose": "marketing.email"}]
        },
        headers=brand_auth,
    )
    assert check.status_code == 503
    with context.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ReleaseReceipt)) == 0


def test_receipt_commit_failure_releases_nothing(api) -> None:
    brand, brand_auth = api.brand()
    customer, auth = _with_data(api)
    api.grant(customer, auth, brand.address, ["contact.email"], ["marketing.email"])
    api.relay()
    with api.context.engine.begin() as connection:  # the receipts table becomes unwritable
        connection.exec_driver_sql("DROP TABLE release_receipts")
    reply = _release(api, brand_auth, [customer.address])
    assert reply.status_code == 503
    assert "ada@example.org" not in reply.text
