"""Rate limits (429 problem+json with Retry-After) per network address, per signed-in identity and for
sign-in nonces, and a bound on the unused sign-in nonces the database keeps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eth_account import Account
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from api_support import Api, api_settings
from consent_ledger.api.app import create_app
from consent_ledger.auth.models import AuthNonce
from consent_ledger.auth.sql_nonces import SqlNonceStore
from consent_ledger.db.engine import make_session_factory
from consent_ledger.errors import ConfigError, RateLimitedError
from consent_ledger.ratelimit import LimitSpec, RateLimits

pytestmark = pytest.mark.chain
NO_LIMITS = {"rate_limit_per_address": "", "rate_limit_per_identity": "", "rate_limit_nonces_per_address": ""}


@pytest.fixture
def limited(chain, db_url: str, tmp_path, request: pytest.FixtureRequest) -> Iterator[Api]:
    overrides: dict[str, Any] = {**NO_LIMITS, **request.param}
    app = create_app(api_settings(chain, db_url, tmp_path, **overrides), run_relayer=False)
    with TestClient(app) as client:
        yield Api(client, app.state.context)


def _limited(reply: Any) -> dict[str, Any]:
    assert reply.status_code == 429, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(reply.headers["retry-after"]) <= 600
    body: dict[str, Any] = reply.json()
    assert body["status"] == 429
    assert body["type"].endswith(":rate-limited")
    return body


def _nonces(api: Api) -> int:
    with api.context.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AuthNonce)) or 0)


@pytest.mark.parametrize("limited", [{"rate_limit_per_address": "5/minute"}], indirect=True)
def test_per_address_limit(limited: Api) -> None:
    for _ in range(5):
        assert limited.client.get("/v1/catalog").status_code == 200
    body = _limited(limited.client.get("/v1/catalog"))
    assert "network address" in body["detail"]
    _limited(limited.client.post("/v1/auth/login", json={"message": "x", "signature": "0x"}))  # before the body
    assert limited.client.get("/v1/health").status_code == 200  # load balancers keep polling
    assert limited.client.get("/v1/ready").status_code == 200
    other = TestClient(limited.client.app, client=("192.0.2.7", 4000))  # another address: its own count
    assert other.get("/v1/catalog").status_code == 200
    assert other.get("/v1/catalog").headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("limited", [{"rate_limit_per_address": "3/minute"}], indirect=True)
def test_public_stewardship_pages_count_per_address(limited: Api) -> None:
    """The public figures, one brand or several side by side, are counted like every other route."""
    brands = {"brand": ["0x" + "ab" * 20, "0x" + "cd" * 20]}
    assert limited.client.get(f"/v1/stewardship/{brands['brand'][0]}").status_code == 200
    assert limited.client.get("/v1/stewardship/compare", params=brands).status_code == 200
    assert limited.client.get("/v1/stewardship/compare/figures.csv", params=brands).status_code == 200
    _limited(limited.client.get("/v1/stewardship/compare", params=brands))
    _limited(limited.client.get("/v1/stewardship/compare/figures.csv", params=brands))


@pytest.mark.parametrize("limited", [{"rate_limit_per_identity": "4/minute"}], indirect=True)
def test_per_identity_limit(limited: Api) -> None:
    _, auth = limited.customer()
    for _ in range(4):
        assert limited.client.get("/v1/auth/me", headers=auth).status_code == 200
    body = _limited(limited.client.get("/v1/me/grants", headers=auth))
    assert "sign-in" in body["detail"]
    # from another address too: the count follows the token's subject, not the connection
    elsewhere = TestClient(limited.client.app, client=("192.0.2.8", 4000))
    _limited(elsewhere.get("/v1/auth/me", headers=auth))
    _, other = limited.customer()
    assert limited.client.get("/v1/auth/me", headers=other).status_code == 200
    assert limited.client.get("/v1/catalog").status_code == 200  # anonymous routes are not per identity


@pytest.mark.parametrize("limited", [{"rate_limit_nonces_per_address": "3/minute"}], indirect=True)
def test_nonce_limit_per_address(limited: Api) -> None:
    for _ in range(3):
        assert limited.client.get("/v1/auth/nonce").status_code == 200
    body = _limited(limited.client.get("/v1/auth/nonce", params={"address": Account.create().address}))
    assert "nonces" in body["detail"]
    assert _nonces(limited) == 3  # the refused request wrote nothing
    other = TestClient(limited.client.app, client=("192.0.2.9", 4000))
    assert other.get("/v1/auth/nonce").status_code == 200


@pytest.mark.parametrize("limited", [{"max_pending_nonces": 4}], indirect=True)
def test_unused_nonces_are_bounded(limited: Api) -> None:
    account = Account.create()
    addresses = [f"192.0.2.{n}" for n in range(1, 6)]  # many addresses: the bound holds for all together
    for address in addresses[:4]:
        assert TestClient(limited.client.app, client=(address, 1)).get("/v1/auth/nonce").status_code == 200
    body = _limited(TestClient(limited.client.app, client=(addresses[4], 1)).get("/v1/auth/nonce"))
    assert "sign-in nonces are waiting" in body["detail"]
    assert int(limited.client.get("/v1/auth/nonce").headers["retry-after"]) > 500  # until the oldest expires
    assert _nonces(limited) == 4
    _limited(limited.client.get("/v1/auth/nonce", params={"address": account.address}))  # no nonce to be had


def test_expired_nonces_are_pruned_and_make_room(engine: Engine) -> None:
    store = SqlNonceStore(make_session_factory(engine), ttl_seconds=600, max_pending=3)
    start = datetime(2030, 1, 1, tzinfo=UTC)
    first = [store.issue(start + timedelta(seconds=n)) for n in range(3)]
    with pytest.raises(RateLimitedError) as refused:
        store.issue(start + timedelta(seconds=10))
    assert refused.value.retry_after == 590  # the oldest expires at start + 600 s
    assert store.consume(first[1], start + timedelta(seconds=11))  # a sign-in frees its nonce
    store.issue(start + timedelta(seconds=12))
    later = start + timedelta(seconds=700)  # every nonce of the first minute has expired
    store.issue(later)
    assert store.pending(later) == 1
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(AuthNonce)) == 1  # expired rows deleted


def test_limit_strings_are_checked() -> None:
    with pytest.raises(ConfigError, match="CONSENT_RATE_LIMIT_PER_IDENTITY"):
        RateLimits("memory://", LimitSpec(per_address="", per_identity="lots", nonces_per_address=""))
    with pytest.raises(ConfigError, match="CONSENT_RATE_LIMIT_STORAGE"):
        RateLimits("nowhere://x", LimitSpec(per_address="", per_identity="", nonces_per_address=""))
    with pytest.raises(ConfigError, match="'redis'") as missing:  # its client is not installed here
        RateLimits("redis://:hunter2@cache:6379", LimitSpec(per_address="", per_identity="", nonces_per_address=""))
    assert "hunter2" not in str(missing.value)  # the URI's password is never shown
    limits = RateLimits("memory://", LimitSpec(per_address="2/minute", per_identity="", nonces_per_address=""))
    limits.hit("address", "a")
    limits.hit("address", "a")
    with pytest.raises(RateLimitedError):
        limits.hit("address", "a")
    limits.hit("address", "b")
    for _ in range(100):
        limits.hit("identity", "a")  # "" is no limit
