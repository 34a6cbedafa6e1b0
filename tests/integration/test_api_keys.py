"""Brand API keys against live servers on the real chain (issue 11 item 4): a key works on brand endpoints
only, only for its own brand, within its permissions (403 problem+json otherwise), stops working the moment
it is revoked (on every replica), and its last use is recorded. Keys are made, listed and revoked only by
the brand signed in with its wallet, and the secret is shown once."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api_support import AUDITOR, PROFILE, release_to, with_a_grant
from brand_support import ALL_PERMISSIONS, Served, served
from consent_ledger.apikeys.models import ApiKey

pytestmark = pytest.mark.chain
PROBLEM = "application/problem+json"
RELEASE = {"categories": ["contact.email", "interests"], "purpose": "marketing.email"}


@pytest.fixture
def world(chain, db_url: str, tmp_path) -> Iterator[Served]:
    with served(chain, db_url, tmp_path, replicas=2) as live:
        yield live


def call(base: str, method: str, path: str, key: str, **request: Any) -> httpx.Response:
    with httpx.Client(base_url=base, timeout=60) as http:
        return http.request(method, path, headers={"Authorization": f"Bearer {key}"}, **request)


def refused(reply: httpx.Response, status: int, detail: str = "") -> None:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == PROBLEM
    assert detail in reply.json()["detail"]


def test_a_key_opens_its_brands_endpoints(world: Served) -> None:
    api = world.api
    brand, brand_auth, customer, _ = with_a_grant(api)
    key = world.new_key(brand_auth, ALL_PERMISSIONS)["key"]
    question = {"customer": customer.address, "categories": ["contact.email"], "purpose": "marketing.email"}
    checked = call(world.base, "POST", "/v1/permissions/check", key, json={"questions": [question]})
    assert checked.status_code == 200, checked.text
    assert (checked.json()["brand"], checked.json()["answers"]) == (brand.address, [True])
    released = call(world.base, "POST", "/v1/releases", key, json={"customers": [customer.address], **RELEASE})
    assert released.status_code == 200, released.text
    assert released.json()["released"][0]["fields"]["email"] == PROFILE["email"]["value"]
    receipts = call(world.base, "GET", "/v1/releases", key).json()["releases"]
    assert [r["receipt_id"] for r in receipts] == [released.json()["released"][0]["receipt_id"]]
    segment = call(world.base, "GET", "/v1/segments", key, params={"categories": "contact.email", **RELEASE})
    assert segment.json()["customers"] == [customer.address]
    assert call(world.base, "GET", "/v1/insights/budget", key).json()["brand"] == brand.address


def test_a_key_opens_no_customer_auditor_or_key_endpoint(world: Served) -> None:
    api = world.api
    brand, brand_auth = api.brand()
    api.context.settings.auditors.append(brand.address)  # even a brand that is also an auditor
    api.context.auth.auditors.add(brand.address.lower())
    assert "auditor" in api.client.get("/v1/auth/me", headers=brand_auth).json()["roles"]
    key = world.new_key(brand_auth, ALL_PERMISSIONS)["key"]
    for method, path in [
        ("GET", "/v1/me/data"),
        ("DELETE", "/v1/me/data"),
        ("GET", "/v1/me/grants"),
        ("GET", "/v1/me/accesses"),
        ("POST", "/v1/me/typed-data/revoke"),
        ("GET", "/v1/auth/me"),
        ("GET", "/v1/audit/tree-head"),
        ("GET", "/v1/audit/history"),
        ("GET", "/v1/audit/consent-receipts"),
        ("GET", "/v1/brand/api-keys"),
        ("POST", "/v1/brand/api-keys"),
        ("DELETE", "/v1/brand/api-keys/0123456789abcdef"),
    ]:
        body = {"json": {"brand": brand.address}} if method == "POST" else {}
        refused(call(world.base, method, path, key, **body), 403, "API keys open only the brand endpoints")
    # The brand signed in with its wallet still may (nothing was erased by the key's attempt).
    assert api.client.get("/v1/audit/tree-head", headers=brand_auth).status_code == 200
    assert api.client.get("/v1/brand/api-keys", headers=brand_auth).status_code == 200


def test_a_key_speaks_only_for_its_own_brand(world: Served) -> None:
    api = world.api
    _, auth_a, customer, _ = with_a_grant(api)  # the customer granted brand A only
    brand_b, auth_b = api.brand("Other Brand")
    key_b = world.new_key(auth_b, ALL_PERMISSIONS)
    release_to(api, auth_a, customer.address)  # A's receipt
    released = call(world.base, "POST", "/v1/releases", key_b["key"], json={"customers": [customer.address], **RELEASE})
    assert released.status_code == 200, released.text
    assert (released.json()["brand"], released.json()["released"]) == (brand_b.address, [])  # withheld from B
    assert call(world.base, "GET", "/v1/releases", key_b["key"]).json()["releases"] == []  # A's receipts unseen
    question = {"customer": customer.address, "categories": ["contact.email"], "purpose": "marketing.email"}
    checked = call(world.base, "POST", "/v1/permissions/check", key_b["key"], json={"questions": [question]}).json()
    assert (checked["brand"], checked["answers"]) == (brand_b.address, [False])
    # A cannot revoke or see B's key.
    refused(api.client.delete(f"/v1/brand/api-keys/{key_b['id']}", headers=auth_a), 404)
    assert api.client.get("/v1/brand/api-keys", headers=auth_a).json()["keys"] == []
    assert call(world.base, "GET", "/v1/releases", key_b["key"]).status_code == 200
    # A brand taken out of the registry: its keys lose the brand role at once.
    assert api.context.brands.remove(brand_b.address)
    refused(call(world.base, "GET", "/v1/releases", key_b["key"]), 403, "brand role")


def test_a_revoked_key_stops_working_at_once_on_every_replica(world: Served) -> None:
    api = world.api
    _, brand_auth = api.brand()
    made = world.new_key(brand_auth, ["receipts:read"])
    other_replica = world.bases[1]
    assert call(other_replica, "GET", "/v1/releases", made["key"]).status_code == 200  # known to both replicas
    assert call(world.base, "GET", "/v1/releases", made["key"]).status_code == 200
    revoked = api.client.delete(f"/v1/brand/api-keys/{made['id']}", headers=brand_auth)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    for base in world.bases:  # the very next request, on either replica
        refused(call(base, "GET", "/v1/releases", made["key"]), 401, "revoked")
    listed = api.client.get("/v1/brand/api-keys", headers=brand_auth).json()["keys"]
    assert [(k["id"], k["revoked_at"]) for k in listed] == [(made["id"], revoked.json()["revoked_at"])]


def test_scope_is_enforced_with_a_problem(world: Served) -> None:
    api = world.api
    _, brand_auth, customer, _ = with_a_grant(api)
    key = world.new_key(brand_auth, ["receipts:read"])["key"]
    body = {"customers": [customer.address], **RELEASE}
    refused(call(world.base, "POST", "/v1/releases", key, json=body), 403, "lacks the permission releases:request")
    assert call(world.base, "GET", "/v1/releases", key).json()["releases"] == []  # nothing was released
    question = {"customer": customer.address, "categories": ["contact.email"], "purpose": "marketing.email"}
    refused(call(world.base, "POST", "/v1/permissions/check", key, json={"questions": [question]}), 403)
    refused(call(world.base, "GET", "/v1/insights/budget", key), 403, "insights:query")
    refused(call(world.base, "GET", "/v1/segments", key, params={"categories": "interests", **RELEASE}), 403)


def test_last_use_is_recorded(world: Served) -> None:
    api = world.api
    _, brand_auth = api.brand()
    made = world.new_key(brand_auth, ["receipts:read"])
    assert made["last_used_at"] is None
    assert call(world.base, "GET", "/v1/releases", made["key"]).status_code == 200
    (listed,) = api.client.get("/v1/brand/api-keys", headers=brand_auth).json()["keys"]
    assert listed["last_used_at"] is not None
    assert listed["last_used_at"] >= made["created_at"]


def test_the_secret_is_shown_once_and_stored_hashed(world: Served) -> None:
    api = world.api
    _, brand_auth = api.brand()
    made = world.new_key(brand_auth, ["receipts:read", "permissions:read"], name="CRM sync")
    assert made["key"].startswith(made["prefix"])
    assert made["prefix"] == f"clk_{made['id']}_"
    (listed,) = api.client.get("/v1/brand/api-keys", headers=brand_auth).json()["keys"]
    assert "key" not in listed
    assert {k: v for k, v in made.items() if k != "key"} == listed
    with api.context.sessions() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.id == made["id"]))
    assert row is not None
    secret = made["key"][len(made["prefix"]) :]
    assert row.secret_sha256 == hashlib.sha256(secret.encode()).digest()
    permissions = api.client.get("/v1/brand/api-keys", headers=brand_auth).json()["permissions"]
    assert [p["name"] for p in permissions] == ALL_PERMISSIONS


def test_keys_are_managed_only_by_a_signed_in_brand(world: Served) -> None:
    api = world.api
    _, customer_auth = api.customer()
    body = {"name": "x", "permissions": ["receipts:read"]}
    refused(api.client.post("/v1/brand/api-keys", json=body, headers=customer_auth), 403, "brand role")
    auditor_auth = api.sign_in(AUDITOR)
    refused(api.client.get("/v1/brand/api-keys", headers=auditor_auth), 403)
    refused(api.client.get("/v1/brand/api-keys"), 401)
    _, brand_auth = api.brand()
    for bad in ({"name": "x", "permissions": ["receipts:write"]}, {"name": "x", "permissions": []}, {"name": ""}):
        assert api.client.post("/v1/brand/api-keys", json=bad, headers=brand_auth).status_code == 422
    assert api.client.get("/v1/brand/api-keys", headers=brand_auth).json()["keys"] == []


@pytest.mark.parametrize("key", ["clk_", "clk_0123456789abcdef_" + "A" * 43, "clk_nothex"])
def test_unknown_or_malformed_keys_are_401(world: Served, key: str) -> None:
    refused(call(world.base, "GET", "/v1/releases", key), 401, "API key")
