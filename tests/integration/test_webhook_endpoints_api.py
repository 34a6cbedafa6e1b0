"""Webhook endpoints through the API and the typed brand client, against live servers on the real chain and
on SQLite and PostgreSQL (issue 11 items 1 and 4): a brand with an API key holding webhooks:manage makes,
lists, changes, rotates, re-enables and deletes its endpoints; the secret is shown once; the headers the
server would sign verify with the published key and the shown secrets; another brand's endpoints are 404;
bad URLs and event types are 4xx problem documents that change nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from brand_support import Served, served
from consent_ledger.apimodels.webhooks import WebhookEndpoint, WebhookEndpointWithSecret, WebhookKeys
from consent_ledger.client import BrandClient, RequestRefusedError, WebhookVerifier
from consent_ledger.db.base import utc_now
from consent_ledger.webhooks.signing import signature_headers

pytestmark = pytest.mark.chain
PROBLEM = "application/problem+json"
HOOK = "http://127.0.0.1:18150/consent-hook"  # development: http and loopback allowed (nothing listens here)
PUBLIC = "https://93.184.216.34/hooks/consent"
KEYS = "/.well-known/consent-ledger/webhook-keys.json"
BODY = (
    b'{"type":"consent.revoked","timestamp":"2026-12-02T08:00:01+00:00","data":{"event_id":"evt_'
    + b"ab" * 32
    + b'","customer":"0x1111111111111111111111111111111111111111","brand":"0x2222222222222222222222222222222222222222",'
    b'"occurred_at":"2026-12-02T08:00:00+00:00"}}'
)


@pytest.fixture
def world(chain, db_url: str, tmp_path) -> Iterator[Served]:
    with served(chain, db_url, tmp_path) as live:
        yield live


@pytest.fixture
def production_like(chain, tmp_path) -> Iterator[Served]:
    """A server where webhooks may go only to public https addresses (as in production)."""
    with served(chain, f"sqlite:///{tmp_path / 'strict.db'}", tmp_path, webhook_dev_destinations=False) as live:
        yield live


def _client(world: Served, permissions: list[str] | None = None) -> tuple[BrandClient, dict[str, str]]:
    _, brand_auth = world.api.brand()
    key = world.new_key(brand_auth, permissions or ["webhooks:manage"])["key"]
    return BrandClient(world.base, key), brand_auth


def test_a_brand_manages_its_endpoints_with_the_client(world: Served) -> None:
    client, _ = _client(world)
    with client:
        made = client.create_webhook_endpoint(HOOK, ["consent.revoked", "data.erased"], "CRM")
        assert isinstance(made, WebhookEndpointWithSecret)
        assert (made.url, made.event_types, made.description, made.enabled) == (
            HOOK,
            ["consent.revoked", "data.erased"],
            "CRM",
            True,
        )
        assert made.secret.startswith("whsec_")
        assert made.previous_secret_expires_at is None
        listed = client.webhook_endpoints()
        assert [e.id for e in listed.endpoints] == [made.id]
        assert "consent.granted" in listed.event_types
        assert "secret" not in listed.endpoints[0].model_dump()  # shown once, never listed
        one = client.webhook_endpoint(made.id)
        assert isinstance(one, WebhookEndpoint)
        assert "secret" not in one.model_dump()
        changed = client.update_webhook_endpoint(made.id, event_types=["consent.granted"], description="CRM v2")
        assert (changed.event_types, changed.description, changed.url) == (["consent.granted"], "CRM v2", HOOK)
        assert changed.version == made.version + 1
        rotated = client.rotate_webhook_secret(made.id)
        assert rotated.secret != made.secret
        assert rotated.previous_secret_expires_at is not None
        keys = client.webhook_keys()
        assert isinstance(keys, WebhookKeys)
        assert [k.alg for k in keys.keys] == ["ed25519"]
        # What the delivery plane signs with verifies with what the brand was shown and what is published.
        context = world.api.context
        with context.sessions() as session:
            secrets = context.webhook_endpoints.signing_secrets(session, made.id, utc_now())
        assert secrets == [rotated.secret, made.secret]
        headers = signature_headers("evt_" + "ab" * 32, int(time.time()), BODY, secrets, context.webhook_key)
        for secret in (made.secret, rotated.secret):
            verifier = WebhookVerifier(secrets=[secret], public_keys=[k.public_key for k in keys.keys])
            assert verifier.verify(BODY, headers).event.type == "consent.revoked"
        deleted = client.delete_webhook_endpoint(made.id)
        assert deleted.id == made.id
        assert client.webhook_endpoints().endpoints == []
        with pytest.raises(RequestRefusedError) as gone:
            client.webhook_endpoint(made.id)
        assert gone.value.status == 404


def test_an_auto_disabled_endpoint_shows_why_and_is_enabled_again(world: Served) -> None:
    client, brand_auth = _client(world)
    with client:
        made = client.create_webhook_endpoint(HOOK, ["consent.revoked"])
        context = world.api.context
        with context.sessions.begin() as session:  # as the delivery worker does after days of failures
            assert context.webhook_endpoints.disable(session, made.id, made.version, "failing for 3 days", utc_now())
        disabled = client.webhook_endpoint(made.id)
        assert (disabled.enabled, disabled.disabled_reason) == (False, "failing for 3 days")
        assert disabled.disabled_at is not None
        enabled = client.enable_webhook_endpoint(made.id)
        assert (enabled.enabled, enabled.disabled_reason, enabled.disabled_at) == (True, None, None)
    # The brand's wallet sign-in manages them too.
    listed = world.api.client.get("/v1/webhooks/endpoints", headers=brand_auth)
    assert listed.status_code == 200, listed.text
    assert [e["enabled"] for e in listed.json()["endpoints"]] == [True]


def test_another_brands_endpoints_are_not_found(world: Served) -> None:
    owner, _ = _client(world)
    other, _ = _client(world)
    with owner, other:
        made = owner.create_webhook_endpoint(HOOK, ["consent.revoked"])
        for call in (
            lambda: other.webhook_endpoint(made.id),
            lambda: other.update_webhook_endpoint(made.id, url=PUBLIC),
            lambda: other.rotate_webhook_secret(made.id),
            lambda: other.enable_webhook_endpoint(made.id),
            lambda: other.delete_webhook_endpoint(made.id),
            lambda: other.webhook_endpoint("not-an-id"),
        ):
            with pytest.raises(RequestRefusedError) as refused:
                call()
            assert refused.value.status == 404
        assert other.webhook_endpoints().endpoints == []
        shown = {k: v for k, v in made.model_dump().items() if k not in ("secret", "previous_secret_expires_at")}
        assert owner.webhook_endpoint(made.id).model_dump() == shown  # unchanged by the refused calls


def test_a_key_without_the_permission_is_refused(world: Served) -> None:
    client, _ = _client(world, ["receipts:read"])
    with client, pytest.raises(RequestRefusedError) as refused:
        client.create_webhook_endpoint(HOOK, ["consent.revoked"])
    assert refused.value.status == 403
    assert "webhooks:manage" in refused.value.problem.detail


def test_bad_urls_and_event_types_are_refused_and_change_nothing(production_like: Served) -> None:
    client, _ = _client(production_like)
    with client:
        for url, detail in (
            ("http://hooks.example.com/x", "must use https://"),
            ("https://127.0.0.1/x", "loopback"),
            ("https://10.0.0.8/x", "private-range"),
            ("https://169.254.169.254/latest/meta-data", "link-local"),
            ("https://[::ffff:192.168.0.1]/x", "IPv6 address carrying"),
            ("https://localhost/x", "internal name"),
            ("https://admin:pw@hooks.example.com/", "user name or password"),
            ("ftp://hooks.example.com/", "https://"),
        ):
            with pytest.raises(RequestRefusedError) as refused:
                client.create_webhook_endpoint(url, ["consent.revoked"])
            assert refused.value.status == 400, url
            assert detail in refused.value.problem.detail, (url, refused.value.problem.detail)
        with pytest.raises(RequestRefusedError) as unknown:
            client.create_webhook_endpoint(PUBLIC, ["consent.everything"])
        assert (unknown.value.status, "unknown event type" in unknown.value.problem.detail) == (400, True)
        assert client.webhook_endpoints().endpoints == []
        made = client.create_webhook_endpoint(PUBLIC, ["consent.revoked"])
        with pytest.raises(RequestRefusedError) as internal:
            client.update_webhook_endpoint(made.id, url="https://192.168.1.1/")
        assert internal.value.status == 400
        assert client.webhook_endpoint(made.id).url == PUBLIC
    base = production_like.base
    key_auth = {"Authorization": client._http.headers["Authorization"]}
    with httpx.Client(base_url=base, headers=key_auth, timeout=60) as http:
        for body in ({"url": PUBLIC}, {"url": PUBLIC, "event_types": []}, {"url": PUBLIC, "event_types": "x"}):
            reply = http.post("/v1/webhooks/endpoints", json=body)
            assert (reply.status_code, reply.headers["content-type"]) == (422, PROBLEM), reply.text
        reply = http.patch(f"/v1/webhooks/endpoints/{made.id}", json={"secret": "mine"})
        assert reply.status_code == 422


def test_the_public_keys_are_published_without_a_token(world: Served) -> None:
    reply = httpx.get(world.base + KEYS, timeout=60)
    assert reply.status_code == 200
    assert reply.headers["cache-control"] == "public, max-age=300"
    (key,) = reply.json()["keys"]
    own = world.api.context.webhook_key
    assert key == {"id": own.key_id, "alg": "ed25519", "public_key": own.public_key}
