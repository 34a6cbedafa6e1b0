"""Random per-purpose grants: `isAllowed`, `areAllowed`, the Python model and the gatekeeper give
the same answers, and a release for a purpose holds exactly the data granted for that purpose."""

from __future__ import annotations

import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api_support import Api
from consent_ledger.chain.ledger import Ledger
from consent_ledger.domain import PurposeTerms, Query, categories_for, terms_allow
from consent_ledger.services.gatekeeper import Gatekeeper
from support import grant_request, new_account, sign_grant

pytestmark = pytest.mark.chain

PURPOSES = range(5)
CATEGORIES = 0b111111
terms_strategy = st.dictionaries(st.sampled_from(PURPOSES), st.integers(1, CATEGORIES), min_size=1, max_size=4).map(
    lambda d: tuple(PurposeTerms(p, d[p]) for p in sorted(d))
)
questions = st.lists(st.tuples(st.integers(0, 2), st.integers(0, CATEGORIES), st.integers(0, 0b11111)), max_size=30)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(grants=st.lists(terms_strategy, min_size=3, max_size=3), asked=questions)
def test_views_model_and_gatekeeper_agree(chain, ledger: Ledger, grants, asked) -> None:
    snapshot = chain.rpc.request("evm_snapshot")
    relayer = ledger.sender("0x" + "6d" * 32)  # a fresh sender per example: its nonce cache dies with the revert
    chain.fund(relayer.address)
    try:
        brand, now = new_account().address, chain.now()
        customers = [new_account() for _ in grants]
        requests = [grant_request(c.address, brand, now, terms=t) for c, t in zip(customers, grants, strict=True)]
        ledger.grant_batch(relayer, [(r, sign_grant(ledger, c, r)) for r, c in zip(requests, customers, strict=True)])
        gate = Gatekeeper(ledger)
        pin = gate.pin()
        addresses = [c.address for c in customers]

        queries = [Query(addresses[i], brand, cats, purposes) for i, cats, purposes in asked]
        model = [terms_allow(grants[i], cats, purposes) for i, cats, purposes in asked]
        assert ledger.are_allowed(queries, pin.ref()) == model
        assert [ledger.is_allowed(q.customer, q.brand, q.categories, q.purposes, pin.ref()) for q in queries] == model
        assert [
            gate.check_at(pin, brand, [(q.customer, q.categories, q.purposes)]).answers[0] for q in queries
        ] == model

        for purpose in PURPOSES:
            decision = gate.decide_release_at(pin, brand, addresses, CATEGORIES, 1 << purpose)
            assert decision.granted == {a: categories_for(t, purpose) for a, t in zip(addresses, grants, strict=True)}
    finally:
        assert chain.rpc.request("evm_revert", [snapshot]) is True


# One field per category, so a release shows which categories it carried.
FIELDS = {
    "email": "contact.email",
    "phone": "contact.phone",
    "interests": "interests",
    "orders": "purchase_history",
    "city": "location.coarse",
}
PURPOSE_NAMES = ["marketing.email", "marketing.sms", "tcf.measure_ad_performance"]
named_terms = st.dictionaries(
    st.sampled_from(PURPOSE_NAMES), st.sets(st.sampled_from(sorted(FIELDS.values())), min_size=1), min_size=1
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(allow=named_terms)
def test_a_release_for_a_purpose_holds_only_that_purposes_data(api: Api, allow) -> None:
    brand, brand_auth = api.brand()
    customer, auth = api.customer()
    fields = {name: {"category": category, "value": f"{name} of the customer"} for name, category in FIELDS.items()}
    assert api.client.put("/v1/me/data", json={"fields": fields}, headers=auth).status_code == 204
    terms = [{"purpose": p, "categories": sorted(c)} for p, c in allow.items()]
    typed = api.client.post("/v1/me/typed-data/grant", json={"brand": brand.address, "terms": terms}, headers=auth)
    assert typed.status_code == 200, typed.text
    signature = Account.sign_typed_data(customer.key, full_message=typed.json()).signature
    body = {"kind": "grant", "message": typed.json()["message"], "signature": "0x" + signature.hex()}
    assert api.client.post("/v1/me/submissions", json=body, headers=auth).status_code == 202
    api.relay()
    for purpose in PURPOSE_NAMES:
        reply = api.client.post(
            "/v1/releases",
            json={"customers": [customer.address], "categories": sorted(FIELDS.values()), "purpose": purpose},
            headers=brand_auth,
        )
        assert reply.status_code == 200, reply.text
        released = reply.json()["released"]
        granted = allow.get(purpose, set())
        if not granted:
            assert released == []
            continue
        (mine,) = released
        assert {FIELDS[name] for name in mine["fields"]} == granted  # exactly this purpose's data, nothing else
