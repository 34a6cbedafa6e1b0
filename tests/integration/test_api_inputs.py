"""Bad input gets a clear 4xx problem+json and changes nothing; never a 500."""

from __future__ import annotations

import time

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from api_support import AUDITOR, PROFILE, Api, api_settings
from consent_ledger.api.app import create_app
from consent_ledger.chain.deploy import ensure_deployed
from consent_ledger.composition import build_context, database_url
from consent_ledger.errors import ConfigError

pytestmark = pytest.mark.chain


def _problem(reply, status: int) -> dict:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    body = reply.json()
    assert body["status"] == status
    assert body["detail"]
    return body


def test_sign_in_failures(api) -> None:
    account = Account.create()
    challenge = api.client.get("/v1/auth/nonce", params={"address": account.address}).json()
    message = challenge["message"]
    other = Account.create()
    bad_sig = "0x" + Account.sign_message(encode_defunct(text=message), other.key).signature.hex()
    _problem(api.client.post("/v1/auth/login", json={"message": message, "signature": bad_sig}), 401)
    good_sig = "0x" + Account.sign_message(encode_defunct(text=message), account.key).signature.hex()
    assert api.client.post("/v1/auth/login", json={"message": message, "signature": good_sig}).status_code == 200
    # the nonce is single use
    _problem(api.client.post("/v1/auth/login", json={"message": message, "signature": good_sig}), 401)
    # another domain
    foreign = message.replace("testserver", "evil.example", 1)
    foreign_sig = "0x" + Account.sign_message(encode_defunct(text=foreign), account.key).signature.hex()
    _problem(api.client.post("/v1/auth/login", json={"message": foreign, "signature": foreign_sig}), 401)
    _problem(api.client.post("/v1/auth/login", json={"message": "hello", "signature": good_sig}), 401)
    _problem(api.client.post("/v1/auth/login", json={"message": message}), 422)
    _problem(api.client.post("/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"}), 422)
    _problem(api.client.get("/v1/auth/nonce", params={"address": "0x1234"}), 400)


def test_roles_in_the_token(api) -> None:
    _brand, brand_auth = api.brand("Roles Inc")
    assert api.client.get("/v1/auth/me", headers=brand_auth).json()["roles"] == ["brand", "customer"]
    auditor_auth = api.sign_in(AUDITOR)
    assert "auditor" in api.client.get("/v1/auth/me", headers=auditor_auth).json()["roles"]


def test_grant_typed_data_inputs(api) -> None:
    brand, _ = api.brand()
    _, auth = api.customer()
    url = "/v1/me/typed-data/grant"
    base = {"brand": brand.address, "categories": ["contact.email"], "purposes": ["marketing.email"]}
    assert api.client.post(url, json=base, headers=auth).status_code == 200
    body = _problem(api.client.post(url, json={**base, "categories": ["contact.emial"]}, headers=auth), 400)
    assert "contact.emial" in body["detail"]
    _problem(api.client.post(url, json={**base, "purposes": ["nope"]}, headers=auth), 400)
    _problem(api.client.post(url, json={**base, "brand": "0xnot-an-address"}, headers=auth), 400)
    _problem(api.client.post(url, json={**base, "brand": Account.create().address}, headers=auth), 400)  # unregistered
    _problem(api.client.post(url, json={**base, "days": 0}, headers=auth), 422)
    longest = api.context.ledger.max_grant_duration() // 86_400  # the bound comes from the contract
    assert longest == 730
    assert api.client.get("/v1/limits").json() == {"max_grant_seconds": 730 * 86_400, "max_grant_days": 730}
    assert api.client.post(url, json={**base, "days": longest}, headers=auth).status_code == 200
    body = _problem(api.client.post(url, json={**base, "days": longest + 1}, headers=auth), 400)
    assert f"1 to {longest}" in body["detail"]
    _problem(api.client.post(url, json={**base, "expires_at": 1}, headers=auth), 400)
    _problem(api.client.post(url, json={**base, "categories": []}, headers=auth), 422)
    _problem(api.client.post(url, json={**base, "extra": 1}, headers=auth), 422)
    per_purpose = {
        "brand": brand.address,
        "terms": [
            {"purpose": "marketing.email", "categories": ["contact.email", "interests"]},
            {"purpose": "tcf.measure_ad_performance", "categories": ["purchase_history"]},
        ],
    }
    typed = api.client.post(url, json=per_purpose, headers=auth).json()
    catalog = api.context.catalog
    email, measure = catalog.purpose("marketing.email").bit, catalog.purpose("tcf.measure_ad_performance").bit
    by_bit = {
        email: str(catalog.category_mask(["contact.email", "interests"])),
        measure: str(catalog.category_mask(["purchase_history"])),
    }
    assert typed["message"]["purposes"] == str(1 << email | 1 << measure)
    assert typed["message"]["categoriesPerPurpose"] == [by_bit[bit] for bit in sorted(by_bit)]
    _problem(api.client.post(url, json={**per_purpose, "categories": ["contact.email"]}, headers=auth), 400)
    _problem(api.client.post(url, json={"brand": brand.address}, headers=auth), 400)
    no_data = {"brand": brand.address, "terms": [{"purpose": "marketing.email", "categories": []}]}
    _problem(api.client.post(url, json=no_data, headers=auth), 422)
    unknown = {"brand": brand.address, "terms": [{"purpose": "marketing.fax", "categories": ["contact.email"]}]}
    _problem(api.client.post(url, json=unknown, headers=auth), 400)


def test_submission_checks_before_the_outbox(api) -> None:
    brand, _ = api.brand()
    customer, auth = api.customer()
    typed = api.client.post(
        "/v1/me/typed-data/grant",
        json={"brand": brand.address, "categories": ["contact.email"], "purposes": ["marketing.email"]},
        headers=auth,
    ).json()
    message = typed["message"]
    signature = "0x" + Account.sign_typed_data(customer.key, full_message=typed).signature.hex()
    url = "/v1/me/submissions"

    def submit(**changes):
        body = {"kind": "grant", "message": message, "signature": signature}
        body.update(changes)
        return api.client.post(url, json=body, headers=auth)

    wrong_signer = "0x" + Account.sign_typed_data(Account.create().key, full_message=typed).signature.hex()
    _problem(submit(signature=wrong_signer), 400)
    (mask,) = message["categoriesPerPurpose"]
    assert mask != "3"
    _problem(submit(message={**message, "categoriesPerPurpose": ["3"]}), 400)  # tampered after signing
    _problem(submit(message={**message, "categories": "1"}), 400)  # not a field of the message

    def signed_with(**changes):
        """A message the customer really signed, with terms the contract would refuse."""
        other = {**typed, "message": {**message, **changes}}
        sig = "0x" + Account.sign_typed_data(customer.key, full_message=other).signature.hex()
        return submit(message=other["message"], signature=sig)

    measure = api.context.catalog.purpose("tcf.measure_ad_performance").bit
    purposes = int(message["purposes"])
    for bad_purposes, bad_masks, why in [
        (0, [], "at least one purpose"),
        (purposes, [mask, mask], "one mask per purpose"),  # two masks for one purpose
        (purposes | 1 << measure, [mask], "one mask per purpose"),  # two purposes, one mask
        (purposes, ["0"], "at least one data category"),
        (1 << 12, ["1"], "unknown to catalog"),  # a bit the catalog does not name
        (purposes, [str(1 << 60)], "unknown to catalog"),
    ]:
        changes = {"purposes": str(bad_purposes), "categoriesPerPurpose": bad_masks}
        assert why in _problem(signed_with(**changes), 400)["detail"], (changes, why)
    # beyond the contract's purposes 0..63 (no wallet would sign it: it is not a uint64)
    assert "from 0 to" in _problem(submit(message={**message, "purposes": str(1 << 64)}), 400)["detail"]
    too_far = message["deadline"] + api.context.ledger.max_grant_duration()
    assert "at most 730 days" in _problem(signed_with(expiresAt=too_far), 400)["detail"]
    _problem(submit(message={**message, "nonce": "5"}), 409)  # not the current nonce
    _problem(submit(message={**message, "deadline": 1}), 400)  # deadline passed
    _problem(submit(message={k: v for k, v in message.items() if k != "brand"}), 400)
    _problem(submit(kind="grab"), 400)
    _problem(submit(signature="0x1234"), 400)
    _problem(submit(signature="nothex"), 400)
    assert api.client.get("/v1/me/submissions", headers=auth).json()["submissions"] == []  # nothing stored

    first = submit()
    assert first.status_code == 202
    again = submit()  # the same signed message again: idempotent
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    # while it is pending, new typed data for the same brand is refused (the nonce is taken)
    _problem(
        api.client.post(
            "/v1/me/typed-data/grant",
            json={"brand": brand.address, "categories": ["contact.phone"], "purposes": ["marketing.email"]},
            headers=auth,
        ),
        409,
    )
    assert len(api.client.get("/v1/me/submissions", headers=auth).json()["submissions"]) == 1


def test_data_endpoints(api) -> None:
    customer, auth = api.customer()
    assert api.client.put("/v1/me/data", json={"fields": PROFILE}, headers=auth).status_code == 204
    data = api.client.get("/v1/me/data", headers=auth).json()["fields"]
    assert data["email"] == {"category": "contact.email", "value": "ada@example.org"}
    export = api.client.get("/v1/me/data/export", headers=auth).json()
    assert export["customer"] == customer.address
    assert {f["field"] for f in export["fields"]} == set(PROFILE)

    _problem(
        api.client.put("/v1/me/data", json={"fields": {"x": {"category": "nope", "value": "1"}}}, headers=auth), 400
    )
    _problem(api.client.put("/v1/me/data", json={"fields": {}}, headers=auth), 422)
    _problem(api.client.put("/v1/me/data", json={"fields": {"x": {"category": "contact.email"}}}, headers=auth), 422)
    huge = {"x": {"category": "contact.email", "value": "a" * 20_000}}
    _problem(api.client.put("/v1/me/data", json={"fields": huge}, headers=auth), 400)
    assert api.client.get("/v1/me/data", headers=auth).json()["fields"] == data  # unchanged

    _problem(api.client.delete("/v1/me/data", headers=auth), 400)  # needs confirmation
    assert api.client.get("/v1/me/data", headers=auth).json()["fields"] == data
    assert api.client.delete("/v1/me/data", params={"confirm": "ERASE"}, headers=auth).json() == {"erased_fields": 4}
    assert api.client.get("/v1/me/data", headers=auth).json()["fields"] == {}
    _problem(api.client.put("/v1/me/data", json={"fields": PROFILE}, headers=auth), 410)
    assert api.client.get("/v1/me/data/export", headers=auth).json()["fields"] == []


def test_brand_endpoint_inputs(api) -> None:
    _, auth = api.brand()
    customer = Account.create().address
    question = {"customer": customer, "categories": ["contact.email"], "purpose": "marketing.email"}
    url = "/v1/permissions/check"
    assert api.client.post(url, json={"questions": [question]}, headers=auth).json()["answers"] == [False]
    _problem(api.client.post(url, json={"questions": [{**question, "customer": "0x12"}]}, headers=auth), 400)
    _problem(api.client.post(url, json={"questions": [{**question, "purpose": "spam"}]}, headers=auth), 400)
    _problem(api.client.post(url, json={"questions": []}, headers=auth), 422)
    _problem(api.client.post(url, json={"questions": [question] * 10_001}, headers=auth), 400)
    _problem(api.client.post(url, json={"questions": "all"}, headers=auth), 422)

    url = "/v1/releases"
    body = {"customers": [customer], "categories": ["contact.email"], "purpose": "marketing.email"}
    assert api.client.post(url, json=body, headers=auth).status_code == 200
    _problem(api.client.post(url, json={**body, "customers": ["nope"]}, headers=auth), 400)
    _problem(api.client.post(url, json={**body, "customers": []}, headers=auth), 422)
    _problem(api.client.post(url, json={**body, "categories": ["health.secret"]}, headers=auth), 400)
    many = [Account.create().address for _ in range(1_001)]
    _problem(api.client.post(url, json={**body, "customers": many}, headers=auth), 400)
    _problem(api.client.get("/v1/segments", params={"categories": "", "purpose": "marketing.email"}, headers=auth), 400)
    _problem(api.client.get("/v1/segments", params={"purpose": "marketing.email"}, headers=auth), 422)


def test_public_endpoints(api) -> None:
    catalog = api.client.get("/v1/catalog").json()
    assert catalog["notice"]["hash"].startswith("0x")
    assert any(p["name"] == "marketing.email" for p in catalog["purposes"])
    api.brand("Listed Ltd")
    assert "Listed Ltd" in [b["name"] for b in api.client.get("/v1/brands").json()["brands"]]
    health = api.client.get("/v1/health").json()
    assert health["chain"]["ok"] is True
    _problem(api.client.get("/v1/nowhere"), 404)


def test_background_relayer_confirms(chain, db_url, tmp_path) -> None:
    app = create_app(api_settings(chain, db_url, tmp_path, relayer_interval=0.05), run_relayer=True)
    with TestClient(app) as client:
        api = Api(client, app.state.context)
        brand, _ = api.brand()
        customer, auth = api.customer()
        submission = api.grant(customer, auth, brand.address, ["contact.email"], ["marketing.email"])
        deadline = time.monotonic() + 20
        status = submission["status"]
        while status != "confirmed" and time.monotonic() < deadline:
            time.sleep(0.05)
            status = client.get(f"/v1/me/submissions/{submission['id']}", headers=auth).json()["status"]
        assert status == "confirmed"


def test_a_database_serves_one_deployment(chain, db_url, tmp_path, relayer) -> None:
    settings = api_settings(chain, db_url, tmp_path)
    build_context(settings).close()  # binds the database to the session's contract
    other_dir = tmp_path / "other-deployments"
    ensure_deployed(chain.rpc, relayer, chain.artifacts["ConsentLedger"], other_dir)
    with pytest.raises(ConfigError, match="this database belongs to contract"):
        build_context(settings.model_copy(update={"deployments_dir": other_dir}))


def test_default_database_is_per_deployment(chain, tmp_path) -> None:
    settings = api_settings(chain, "unused", tmp_path, migrate=False).model_copy(update={"database_url": None})
    url = database_url(settings, chain.deployment)
    assert url.startswith("sqlite:///")
    assert chain.deployment.address[2:10].lower() in url


def test_sign_in_names_the_host_used_when_it_is_ours(chain, db_url, tmp_path) -> None:
    settings = api_settings(chain, db_url, tmp_path).model_copy(update={"siwe_domain": None, "api_port": 8123})
    app = create_app(settings, run_relayer=False)
    with TestClient(app) as client:
        account = Account.create()
        for host, expected in (("localhost:8123", "localhost:8123"), ("evil.example", "127.0.0.1:8123")):
            challenge = client.get("/v1/auth/nonce", params={"address": account.address}, headers={"host": host})
            message = challenge.json()["message"]
            assert message.startswith(f"{expected} wants you to sign in")
            signature = "0x" + Account.sign_message(encode_defunct(text=message), account.key).signature.hex()
            assert client.post("/v1/auth/login", json={"message": message, "signature": signature}).status_code == 200


def test_resubmitting_an_accepted_message_after_its_deadline_returns_it(api, chain) -> None:
    brand, _ = api.brand()
    customer, auth = api.customer()
    typed = api.client.post(
        "/v1/me/typed-data/grant",
        json={"brand": brand.address, "categories": ["contact.email"], "purposes": ["marketing.email"]},
        headers=auth,
    ).json()
    body = {
        "kind": "grant",
        "message": typed["message"],
        "signature": "0x" + Account.sign_typed_data(customer.key, full_message=typed).signature.hex(),
    }
    first = api.client.post("/v1/me/submissions", json=body, headers=auth)
    assert first.status_code == 202
    chain.travel(2 * 3_600)  # the signing window (one hour) has passed
    again = api.client.post("/v1/me/submissions", json=body, headers=auth)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    other = dict(body, message={**typed["message"], "categories": "2"})
    _problem(api.client.post("/v1/me/submissions", json=other, headers=auth), 400)  # a new one: deadline counts
