"""Webhook delivery (issue 11 item 2) on the real chain, SQLite and PostgreSQL, to a real HTTP receiver on
loopback: a revocation arrives signed (checked with the standardwebhooks verifier for v1 and with a plain
ed25519 check for v1a), its ack shows in the customer's notices and the stewardship page counts both
steps; an expiry passing on the chain's clock makes consent.expired with no request; an erasure goes to
the brands that received the data and no other; 500, 500, 500, 200 is one delivery after four logged
attempts; a redirect is a failed attempt, never followed; a receiver that hangs or answers with 10 MB does not
hold up another brand's delivery."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient
from sqlalchemy import select
from standardwebhooks import Webhook

from api_support import Api, api_settings, release_to, with_a_grant
from consent_ledger.api.app import create_app
from consent_ledger.propagation.models import PropagationRecord
from consent_ledger.webhooks.models import DELIVERED, OutboxAttempt, OutboxDelivery, OutboxEvent
from webhook_receiver import Receiver, ack, receiver, wait_for

pytestmark = pytest.mark.chain
KEYS = "/.well-known/consent-ledger/webhook-keys.json"
FAST = {"webhook_retry_base_seconds": 0.05, "webhook_retry_cap_seconds": 0.2, "webhook_timeout_seconds": 60.0}


@pytest.fixture
def api(chain, db_url: str, tmp_path) -> Iterator[Api]:
    app = create_app(api_settings(chain, db_url, tmp_path, **FAST), run_relayer=False)
    with TestClient(app) as client:
        yield Api(client, app.state.context)


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


def _endpoint(api: Api, brand_auth: dict[str, str], url: str, kinds: list[str]) -> dict:
    reply = api.client.post("/v1/webhooks/endpoints", json={"url": url, "event_types": kinds}, headers=brand_auth)
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


def _index_and_deliver(api: Api) -> None:
    api.relay()
    api.context.indexer.backfill()
    api.context.webhook_worker.drain()


def _v1a_valid(public_key: str, headers: dict[str, str], body: bytes) -> bool:
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key.removeprefix("whpk_")))
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    signatures = [s.split(",", 1)[1] for s in headers["webhook-signature"].split() if s.startswith("v1a,")]
    assert len(signatures) == 1
    try:
        key.verify(base64.b64decode(signatures[0]), content)
    except InvalidSignature:
        return False
    return True


def test_a_revocation_arrives_signed_and_its_ack_shows_in_the_portal(api: Api, hooks: Receiver) -> None:
    brand, brand_auth, customer, auth = with_a_grant(api)
    endpoint = _endpoint(api, brand_auth, hooks.url("/crm"), ["consent.revoked"])
    hooks.answer("/crm", ack("stopped_processing"))
    release_to(api, brand_auth, customer.address)
    api.revoke(customer, auth, brand.address)
    _index_and_deliver(api)

    (got,) = hooks.at("/crm")
    event = got.event
    assert event["type"] == "consent.revoked"
    assert (event["data"]["customer"], event["data"]["brand"]) == (customer.address, brand.address)
    assert got.headers["webhook-id"] == event["data"]["event_id"]
    assert got.headers["host"] == f"127.0.0.1:{hooks.port}"
    # v1: the standardwebhooks package's own verifier, with the secret the brand was shown once.
    assert Webhook(endpoint["secret"]).verify(got.body, got.headers)["type"] == "consent.revoked"
    with pytest.raises(Exception, match=r"(?i)signature"):
        Webhook(endpoint["secret"]).verify(got.body.replace(b"revoked", b"granted"), got.headers)
    # v1a: an independent ed25519 check with the published key.
    (published,) = api.client.get(KEYS).json()["keys"]
    assert _v1a_valid(published["public_key"], got.headers, got.body)
    assert not _v1a_valid(published["public_key"], got.headers, got.body + b" ")

    (notice,) = api.client.get("/v1/me/notices", headers=auth).json()["notices"]
    assert notice["event_type"] == "consent.revoked"
    assert notice["told"] is not None
    assert notice["acknowledged"] is not None
    assert notice["acknowledged"]["ack"] == "stopped_processing"
    assert notice["settled"] is True
    # Delivered once: a second drain sends nothing more.
    api.context.webhook_worker.drain()
    assert len(hooks.at("/crm")) == 1
    # The brand's public stewardship page counts the worker's steps once they are anchored.
    api.context.anchorer.anchor_now()
    propagation = api.context.stewardship.figures(brand.address)["propagation"]
    assert (propagation["revocations"], propagation["delivered"], propagation["acknowledged"]) == (1, 1, 1)


def test_an_expiry_on_the_chains_clock_makes_an_expired_event(api: Api, hooks: Receiver, chain) -> None:
    brand, brand_auth = api.brand()
    customer, auth = api.customer()
    _endpoint(api, brand_auth, hooks.url("/expiry"), ["consent.expired"])
    expires = chain.now() + 3 * 86_400
    api.grant(customer, auth, brand.address, ["contact.email"], ["marketing.email"], expires_at=expires)
    _index_and_deliver(api)
    assert hooks.at("/expiry") == []  # not yet expired

    chain.travel(4 * 86_400)  # no request to the API: the chain's clock passes the expiry
    api.context.indexer.backfill()
    api.context.webhook_worker.drain()
    (got,) = hooks.wait("/expiry")
    data = got.event["data"]
    assert got.event["type"] == "consent.expired"
    assert (data["customer"], data["brand"]) == (customer.address, brand.address)
    assert data["occurred_at"] == data["expires_at"]
    api.context.webhook_worker.drain()
    assert len(hooks.at("/expiry")) == 1  # one event per expiry


def test_an_erasure_goes_to_every_brand_that_received_the_data_and_no_other(api: Api, hooks: Receiver) -> None:
    _, brand_auth, customer, auth = with_a_grant(api)
    other, other_auth = api.brand("Other Brand")
    api.grant(customer, auth, other.address, ["contact.email", "interests"], ["marketing.email"])
    _endpoint(api, brand_auth, hooks.url("/received"), ["data.erased", "data.released"])
    _endpoint(api, other_auth, hooks.url("/never-received"), ["data.erased", "data.released"])
    release_to(api, brand_auth, customer.address)
    _index_and_deliver(api)
    (released,) = hooks.at("/received")
    assert released.event["type"] == "data.released"

    erased = api.client.delete("/v1/me/data", params={"confirm": "ERASE"}, headers=auth)
    assert erased.status_code == 200, erased.text
    api.context.webhook_worker.drain()
    kinds = [r.event["type"] for r in hooks.at("/received")]
    assert kinds == ["data.released", "data.erased"]
    assert hooks.at("/never-received") == []
    assert hooks.at("/received")[1].event["data"]["customer"] == customer.address
    # Erasing again (idempotent) tells nobody anything new.
    assert api.client.delete("/v1/me/data", params={"confirm": "ERASE"}, headers=auth).status_code == 200
    api.context.webhook_worker.drain()
    assert len(hooks.at("/received")) == 2


def test_three_failures_then_success_is_one_delivery_after_four_attempts(api: Api, hooks: Receiver) -> None:
    brand, brand_auth, customer, auth = with_a_grant(api)
    endpoint = _endpoint(api, brand_auth, hooks.url("/flaky"), ["consent.revoked"])
    hooks.answer("/flaky", (500, b"down"), (500, b"down"), (500, b"down"), (200, b""))
    api.revoke(customer, auth, brand.address)
    _index_and_deliver(api)

    def delivered() -> bool:
        api.context.webhook_worker.drain()
        with api.context.sessions() as session:
            return session.scalar(select(OutboxDelivery.state)) == DELIVERED

    wait_for("the delivery after three failures", delivered)
    assert len(hooks.at("/flaky")) == 4
    assert len({r.headers["webhook-id"] for r in hooks.at("/flaky")}) == 1  # the same event each time
    with api.context.sessions() as session:
        attempts = session.scalars(select(OutboxAttempt).order_by(OutboxAttempt.id)).all()
        steps = session.scalars(select(PropagationRecord.step)).all()
    assert [(a.attempt, a.status_code) for a in attempts] == [(1, 500), (2, 500), (3, 500), (4, 200)]
    assert {a.endpoint_id for a in attempts} == {endpoint["id"]}
    assert all(a.error for a in attempts[:3])
    assert attempts[3].error is None
    assert steps == ["delivered"]  # one delivered leaf, recorded with the success


def test_a_redirect_is_a_failed_attempt_and_is_not_followed(api: Api, hooks: Receiver) -> None:
    brand, brand_auth, customer, auth = with_a_grant(api)
    _endpoint(api, brand_auth, hooks.url("/moved"), ["consent.revoked"])
    hooks.redirects["/moved"] = hooks.url("/elsewhere")  # same host even: a 3xx is never followed
    api.revoke(customer, auth, brand.address)
    _index_and_deliver(api)
    # A retry may follow at once (full jitter can draw a delay near 0): every attempt is judged the same way.
    wait_for("the redirected attempt", lambda: len(hooks.at("/moved")) >= 1)
    with api.context.sessions() as session:
        wait_for("its log row", lambda: session.scalar(select(OutboxAttempt.status_code)) is not None)
        attempts = session.scalars(select(OutboxAttempt).order_by(OutboxAttempt.attempt)).all()
        state = session.scalar(select(OutboxDelivery.state))
        steps = session.scalars(select(PropagationRecord.step)).all()
    assert attempts
    assert [(a.attempt, a.status_code) for a in attempts] == [(n, 307) for n in range(1, len(attempts) + 1)]
    assert all(a.error for a in attempts)
    assert state != DELIVERED
    assert hooks.at("/elsewhere") == []
    assert steps == []  # not told: no delivered leaf


@pytest.mark.parametrize("misbehaviour", ["hangs", "sends 10 MB"])
def test_a_slow_or_huge_receiver_does_not_hold_up_another_brand(api: Api, hooks: Receiver, misbehaviour: str) -> None:
    _, bad_auth, bad_customer, _ = with_a_grant(api)
    _, good_auth, good_customer, _ = with_a_grant(api)
    release = threading.Event()
    if misbehaviour == "hangs":
        hooks.hang["/bad"] = release
    else:
        hooks.huge["/bad"] = 10 * 1024 * 1024
    _endpoint(api, bad_auth, hooks.url("/bad"), ["data.released"])
    _endpoint(api, good_auth, hooks.url("/good"), ["data.released"])
    # The bad brand's events come first: three of them, more than its share of the threads.
    for _ in range(3):
        release_to(api, bad_auth, bad_customer.address)
    release_to(api, good_auth, good_customer.address)
    worker = api.context.webhook_worker
    worker.start(0.05)
    try:
        hooks.wait("/good")
        if misbehaviour == "hangs":
            assert "/bad" not in hooks.finished  # still hanging while the other brand was served
            release.set()
        wait_for("the bad receiver's deliveries", lambda: _delivered_count(api) == 4)
    finally:
        release.set()
        worker.stop()
    if misbehaviour == "sends 10 MB":
        assert len(hooks.sent) == 3
        assert max(hooks.sent) < 10 * 1024 * 1024  # each time the sender hung up after its cap
    with api.context.sessions() as session:
        types = session.scalars(select(OutboxEvent.type)).all()
    assert types == ["data.released"] * 4


def _delivered_count(api: Api) -> int:
    with api.context.sessions() as session:
        return len(session.scalars(select(OutboxDelivery.id).where(OutboxDelivery.state == DELIVERED)).all())


def test_a_brand_without_endpoints_gets_no_events(api: Api, hooks: Receiver) -> None:
    brand, brand_auth, customer, auth = with_a_grant(api)
    release_to(api, brand_auth, customer.address)
    api.revoke(customer, auth, brand.address)
    _index_and_deliver(api)
    with api.context.sessions() as session:
        assert session.scalars(select(OutboxEvent.id)).all() == []
