"""Security headers: pages carry a real CSP header, API answers are never cached, nothing is sniffed or framed."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from api_support import PROFILE

pytestmark = pytest.mark.chain


def _common(reply) -> None:
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in reply.headers["content-security-policy"]


@pytest.mark.parametrize("path", ["/", "/brand.html", "/auditor.html", "/js/api.js", "/css/app.css"])
def test_pages_get_their_policy(api, path) -> None:
    reply = api.client.get(path)
    assert reply.status_code == 200
    _common(reply)
    policy = reply.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self';" in policy  # no inline script, no other origin
    assert "'unsafe-inline'" not in policy


def test_sign_in_and_personal_data_are_never_cached(api) -> None:
    account = Account.create()
    challenge = api.client.get("/v1/auth/nonce", params={"address": account.address})
    signature = Account.sign_message(encode_defunct(text=challenge.json()["message"]), account.key).signature
    login = api.client.post(
        "/v1/auth/login", json={"message": challenge.json()["message"], "signature": "0x" + signature.hex()}
    )
    auth = {"Authorization": f"Bearer {login.json()['token']}"}
    assert api.client.put("/v1/me/data", json={"fields": PROFILE}, headers=auth).status_code == 204
    replies = [
        challenge,
        login,
        api.client.get("/v1/auth/me", headers=auth),
        api.client.get("/v1/me/data", headers=auth),
        api.client.get("/v1/me/data/export", headers=auth),
        api.client.get("/v1/me/data"),  # a problem (401) too
    ]
    for reply in replies:
        assert reply.headers["cache-control"] == "no-store", reply.url
        assert reply.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        _common(reply)


def test_the_docs_pages_keep_working(api) -> None:
    reply = api.client.get("/docs")
    assert reply.status_code == 200
    _common(reply)
    assert "https://cdn.jsdelivr.net" in reply.headers["content-security-policy"]
