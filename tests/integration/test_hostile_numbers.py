"""Issue 8 item 6: numbers past any column's range, addresses with a trailing newline, and faults of
our own data each get the right class of answer: 4xx for what the caller sent, never a 5xx for input,
and a server fault (500, detail kept in the log) for tampered or foreign ciphertext, never a 400."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from sqlalchemy import text

from api_support import AUDITOR, PROFILE, Api, release_to, with_a_grant
from consent_ledger.api.problems import INTERNAL_DETAIL
from consent_ledger.catalog import default_catalog
from consent_ledger.errors import InputError
from consent_ledger.indexer import queries
from consent_ledger.vault import MasterKey, Vault

pytestmark = pytest.mark.chain
HUGE = 10**30
BEYOND = [2**31, 2**63, HUGE]  # past PostgreSQL's INTEGER, past any 64-bit column, far past


def _client_error(reply: Any, *allowed: int) -> dict[str, Any]:
    assert reply.status_code in allowed, (reply.status_code, reply.text)
    assert reply.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = reply.json()
    assert body["detail"]
    return body


def _anchored(api: Api) -> tuple[dict[str, str], dict[str, str]]:
    """A release (so the access log has leaves), anchored; the brand's and the auditor's tokens."""
    _brand, brand_auth, customer, _ = with_a_grant(api)
    release_to(api, brand_auth, customer.address)
    api.context.anchorer.anchor_now()
    return brand_auth, api.sign_in(AUDITOR)


def test_submission_ids_beyond_the_column(api: Api) -> None:
    _, auth = api.customer()
    for number in [*BEYOND, -1, 0]:
        _client_error(api.client.get(f"/v1/me/submissions/{number}", headers=auth), 404)


def test_history_cursors_beyond_the_column(api: Api) -> None:
    _, auth = api.customer()
    auditor = api.sign_in(AUDITOR)
    # a block number past the chain is a valid, empty start; past the columns (or a log index past its
    # column) it is out of range
    for path, headers in (("/v1/me/history", auth), ("/v1/audit/history", auditor)):
        assert api.client.get(path, params={"after": str(2**31)}, headers=headers).json()["items"] == []
        for after in (str(2**63), str(HUGE), f"1.e{2**31}", f"1.e{HUGE}", f"1.r{HUGE}.{'0' * 36}"):
            _client_error(api.client.get(path, params={"after": after}, headers=headers), 400)
    for limit in [HUGE, -HUGE, 0]:
        for path, headers in (("/v1/me/history", auth), ("/v1/audit/history", auditor)):
            reply = api.client.get(path, params={"limit": limit}, headers=headers)
            assert reply.status_code in (200, 400), reply.text


def test_proof_sizes_beyond_the_column(api: Api) -> None:
    _, auditor = _anchored(api)
    size = api.client.get("/v1/audit/tree-head", headers=auditor).json()["anchored"]["size"]
    assert api.client.get("/v1/audit/leaves/0", params={"size": size}, headers=auditor).status_code == 200
    for number in BEYOND:
        _client_error(api.client.get("/v1/audit/leaves/0", params={"size": number}, headers=auditor), 400, 404)
        _client_error(api.client.get(f"/v1/audit/leaves/{number}", headers=auditor), 400, 404)
        consistency = {"first": 1, "second": number}
        _client_error(api.client.get("/v1/audit/consistency", params=consistency, headers=auditor), 400, 404)
        consistency = {"first": number, "second": number}
        _client_error(api.client.get("/v1/audit/consistency", params=consistency, headers=auditor), 400, 404)
    _client_error(api.client.get("/v1/audit/leaves/-1", headers=auditor), 400, 404)
    _client_error(api.client.get("/v1/audit/consistency", params={"first": -1, "second": 1}, headers=auditor), 400)


def test_an_address_followed_by_a_newline_is_bad_input(api: Api) -> None:
    brand, brand_auth = api.brand()
    _, auth = api.customer()
    auditor = api.sign_in(AUDITOR)
    line = Account.create().address + "\n"
    question = {"customer": line, "categories": ["contact.email"], "purpose": "marketing.email"}
    _client_error(api.client.post("/v1/permissions/check", json={"questions": [question]}, headers=brand_auth), 400)
    body = {"customers": [line], "categories": ["contact.email"], "purpose": "marketing.email"}
    _client_error(api.client.post("/v1/releases", json=body, headers=brand_auth), 400)
    _client_error(api.client.get("/v1/auth/nonce", params={"address": line}), 400)
    for path in ("/v1/audit/history", "/v1/audit/export", "/v1/audit/consent-receipts"):
        _client_error(api.client.get(path, params={"customer": line}, headers=auditor), 400)
    _client_error(api.client.get("/v1/audit/history", params={"brand": line}, headers=auditor), 400)
    draft = {"brand": brand.address + "\n", "categories": ["contact.email"], "purposes": ["marketing.email"]}
    _client_error(api.client.post("/v1/me/typed-data/grant", json=draft, headers=auth), 400, 422)
    _client_error(
        api.client.post("/v1/me/typed-data/revoke", json={"brand": brand.address + "\n"}, headers=auth), 400, 422
    )


def _server_fault(reply: Any) -> None:
    assert reply.status_code == 500, reply.text
    assert reply.json()["detail"] == INTERNAL_DETAIL  # the caller learns nothing; the log has the class


def test_tampered_ciphertext_is_our_fault_not_bad_input(api: Api) -> None:
    _brand, brand_auth, customer, auth = with_a_grant(api)
    with api.context.engine.begin() as connection:
        connection.execute(
            text("UPDATE customer_fields SET ciphertext = :junk WHERE field = 'email'"), {"junk": b"\x00" * 40}
        )
    _server_fault(api.client.get("/v1/me/data", headers=auth))
    _server_fault(api.client.get("/v1/me/data/export", headers=auth))
    reply = api.client.post(
        "/v1/releases",
        json={"customers": [customer.address], "categories": ["contact.email"], "purpose": "marketing.email"},
        headers=brand_auth,
    )
    _server_fault(reply)


def test_data_under_another_master_key_is_our_fault_not_bad_input(api: Api) -> None:
    _, auth = api.customer()
    account = Account.create()
    # another replica, misconfigured with its own master key, wrote this customer's data after we started
    Vault(api.context.sessions, MasterKey.generate(), default_catalog()).put_fields(
        account.address, {k: (v["category"], v["value"]) for k, v in PROFILE.items()}
    )
    victim = api.sign_in(account)
    _server_fault(api.client.get("/v1/me/data", headers=victim))
    _server_fault(api.client.put("/v1/me/data", json={"fields": PROFILE}, headers=victim))
    assert api.client.get("/v1/me/data", headers=auth).status_code == 200  # others are unaffected


def test_indexer_queries_refuse_bad_arguments_as_input_errors(api: Api) -> None:
    sessions = api.context.sessions
    for call in (
        lambda: queries.history(sessions, customer="0x12"),
        lambda: queries.history(sessions, customer=Account.create().address + "\n"),
        lambda: queries.history(sessions, limit=0),
        lambda: queries.history(sessions, limit=queries.MAX_LIMIT + 1),
        lambda: queries.history(sessions, kinds=["no-such-kind"]),
    ):
        with pytest.raises(InputError):
            call()
