"""Consent per purpose, end to end through the API: each purpose gets exactly the data granted for it.

One customer grants a brand, in one signature, email and interests for email marketing and purchase
history only to measure ad performance. Releases, segments, the customer's grants, the history and
the consent receipts must all keep the two apart.
"""

from __future__ import annotations

import pytest
from eth_account import Account

from api_support import AUDITOR, Api

pytestmark = pytest.mark.chain

PROFILE = {
    "email": {"category": "contact.email", "value": "ada@example.org"},
    "interests": {"category": "interests", "value": "hiking"},
    "orders": {"category": "purchase_history", "value": "boots, rope"},
    "city": {"category": "location.coarse", "value": "Leeds"},
}
TERMS = [  # in catalog order (ascending purpose bits), as grants list them
    {"purpose": "tcf.measure_ad_performance", "categories": ["purchase_history"]},
    {"purpose": "marketing.email", "categories": ["contact.email", "interests"]},
]
ALL = ["contact.email", "interests", "purchase_history", "location.coarse"]


def _grant_terms(api: Api, customer, auth, brand: str, terms: list[dict]) -> None:
    typed = api.client.post("/v1/me/typed-data/grant", json={"brand": brand, "terms": terms}, headers=auth)
    assert typed.status_code == 200, typed.text
    signature = Account.sign_typed_data(customer.key, full_message=typed.json()).signature
    reply = api.client.post(
        "/v1/me/submissions",
        json={"kind": "grant", "message": typed.json()["message"], "signature": "0x" + signature.hex()},
        headers=auth,
    )
    assert reply.status_code == 202, reply.text
    api.relay()


def _release(api: Api, brand_auth, customer: str, purpose: str, categories=ALL) -> dict:
    reply = api.client.post(
        "/v1/releases", json={"customers": [customer], "categories": categories, "purpose": purpose}, headers=brand_auth
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_each_purpose_gets_exactly_its_own_data(api: Api) -> None:
    brand, brand_auth = api.brand()
    customer, auth = api.customer()
    assert api.client.put("/v1/me/data", json={"fields": PROFILE}, headers=auth).status_code == 204
    _grant_terms(api, customer, auth, brand.address, TERMS[::-1])  # any order in the request

    marketing = _release(api, brand_auth, customer.address, "marketing.email")
    (released,) = marketing["released"]
    assert sorted(released["fields"]) == ["email", "interests"]
    assert sorted(released["categories"]) == ["contact.email", "interests"]

    measuring = _release(api, brand_auth, customer.address, "tcf.measure_ad_performance")
    (released,) = measuring["released"]
    assert sorted(released["fields"]) == ["orders"]

    # a purpose never granted gets nothing, and neither does asking only for another purpose's data
    assert _release(api, brand_auth, customer.address, "marketing.sms")["released"] == []
    only_orders = _release(api, brand_auth, customer.address, "marketing.email", ["purchase_history"])
    assert only_orders["released"] == []

    segment = api.client.get(
        "/v1/segments",
        params={"categories": "purchase_history", "purpose": "tcf.measure_ad_performance"},
        headers=brand_auth,
    )
    assert segment.status_code == 200, segment.text
    assert customer.address in segment.json()["customers"]
    segment = api.client.get(
        "/v1/segments", params={"categories": "purchase_history", "purpose": "marketing.email"}, headers=brand_auth
    )
    assert customer.address not in segment.json()["customers"]

    (row,) = api.client.get("/v1/me/grants", headers=auth).json()["grants"]
    assert row["terms"] == TERMS


def test_history_and_receipts_carry_the_terms(api: Api) -> None:
    brand, _ = api.brand()
    customer, auth = api.customer()
    _grant_terms(api, customer, auth, brand.address, TERMS)
    api.context.indexer.backfill()
    auditor = api.sign_in(AUDITOR)

    history = api.client.get("/v1/audit/history", params={"customer": customer.address}, headers=auditor).json()
    (granted,) = [item for item in history["items"] if item["kind"] == "granted"]
    assert granted["terms"] == TERMS

    receipts = api.client.get("/v1/audit/consent-receipts", params={"customer": customer.address}, headers=auditor)
    (receipt,) = receipts.json()["receipts"]
    purposes = receipt["services"][0]["purposes"]
    assert [(p["purposeCategory"][0], p["piiCategory"]) for p in purposes] == [
        (t["purpose"], t["categories"]) for t in TERMS
    ]


def test_narrowing_is_a_new_grant(api: Api) -> None:
    brand, brand_auth = api.brand()
    customer, auth = api.customer()
    assert api.client.put("/v1/me/data", json={"fields": PROFILE}, headers=auth).status_code == 204
    _grant_terms(api, customer, auth, brand.address, TERMS)
    _grant_terms(api, customer, auth, brand.address, [{"purpose": "marketing.email", "categories": ["contact.email"]}])
    (released,) = _release(api, brand_auth, customer.address, "marketing.email")["released"]
    assert sorted(released["fields"]) == ["email"]
    assert _release(api, brand_auth, customer.address, "tcf.measure_ad_performance")["released"] == []
