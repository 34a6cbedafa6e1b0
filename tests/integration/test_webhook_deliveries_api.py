"""A brand's deliveries through the API and the typed brand client (issue 11 item 2), on a live server on
the real chain, SQLite and PostgreSQL, with a real receiver on loopback: the attempt log per endpoint and
the events with their delivery state, paged; acknowledging by API (idempotent, shown to the customer,
another brand's event is 404); replaying one event and a time range; an endpoint failing for longer than
the limit is disabled (with its reason) and nothing more is sent to it until it is enabled again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from api_support import release_to, with_a_grant
from brand_support import Served, served
from consent_ledger.client import BrandClient, RequestRefusedError
from consent_ledger.webhooks.models import DELIVERED, OutboxDelivery
from webhook_receiver import Receiver, receiver, wait_for

pytestmark = pytest.mark.chain
FAST = {"webhook_retry_base_seconds": 0.05, "webhook_retry_cap_seconds": 0.2}


@pytest.fixture
def world(chain, db_url: str, tmp_path) -> Iterator[Served]:
    with served(chain, db_url, tmp_path, **FAST) as live:
        yield live


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


def _key(world: Served, brand_auth: dict[str, str]) -> BrandClient:
    return BrandClient(world.base, world.new_key(brand_auth, ["webhooks:manage"])["key"])


def _until_delivered(world: Served, count: int = 1) -> None:
    def done() -> bool:
        world.api.context.webhook_worker.drain()
        with world.api.context.sessions() as session:
            states = session.scalars(select(OutboxDelivery.state)).all()
        return states.count(DELIVERED) >= count

    wait_for(f"{count} deliveries", done)


def test_the_attempt_log_and_the_events_with_their_state_page_through(world: Served, hooks: Receiver) -> None:
    api = world.api
    brand, brand_auth, customer, auth = with_a_grant(api)
    with _key(world, brand_auth) as client:
        endpoint = client.create_webhook_endpoint(hooks.url("/log"), ["consent.revoked", "data.released"])
        hooks.answer("/log", (503, b""), (200, b""))
        release_to(api, brand_auth, customer.address)
        release_to(api, brand_auth, customer.address)
        api.revoke(customer, auth, brand.address)
        api.relay()
        api.context.indexer.backfill()
        _until_delivered(world, 3)

        attempts = list(client.iter_webhook_attempts(endpoint.id, page_size=1))
        assert len(attempts) == 4  # the first one answered 503, then three 200s
        assert [a.id for a in attempts] == sorted((a.id for a in attempts), reverse=True)  # newest first
        assert sorted(a.status_code or 0 for a in attempts) == [200, 200, 200, 503]
        (failed,) = [a for a in attempts if a.status_code == 503]
        assert (failed.attempt, failed.error) == (1, "HTTP 503")
        assert [a.attempt for a in attempts if a.event_id == failed.event_id] == [2, 1]
        assert all(a.latency_ms >= 0 for a in attempts)

        events = list(client.iter_webhook_events(page_size=2))
        assert [e.type for e in events] == ["consent.revoked", "data.released", "data.released"]
        assert len({e.event_id for e in events}) == 3
        for event in events:
            (state,) = event.deliveries
            assert (state.endpoint_id, state.state, state.next_attempt_at) == (endpoint.id, "delivered", None)
            assert event.customer == customer.address
        assert sum(e.deliveries[0].attempts for e in events) == 4
        only = client.webhook_events(type="consent.revoked")
        assert [e.type for e in only.events] == ["consent.revoked"]
        assert only.next is None
        for bad in ({"type": "consent.nope"}, {"cursor": "x"}):
            with pytest.raises(RequestRefusedError) as refused:
                client.webhook_events(**bad)
            assert refused.value.status in (400, 422)


def test_an_ack_by_api_is_recorded_once_and_shown_to_the_customer(world: Served, hooks: Receiver) -> None:
    api = world.api
    brand, brand_auth, customer, auth = with_a_grant(api)
    with _key(world, brand_auth) as client:
        client.create_webhook_endpoint(hooks.url("/ack2"), ["consent.revoked"])
        release_to(api, brand_auth, customer.address)
        api.revoke(customer, auth, brand.address)
        api.relay()
        api.context.indexer.backfill()
        _until_delivered(world)
        (got,) = hooks.at("/ack2")
        event_id = got.headers["webhook-id"]
        (notice,) = api.client.get("/v1/me/notices", headers=auth).json()["notices"]
        assert notice["told"] is not None
        assert notice["acknowledged"] is None

        first = client.acknowledge_webhook_event(event_id, "stopped_processing")
        again = client.acknowledge_webhook_event(event_id, "stopped_processing")
        assert (first.event_id, first.ack) == (event_id, "stopped_processing")
        assert again.leaf_index == first.leaf_index  # idempotent: one leaf
        assert again.acknowledged_at == first.acknowledged_at
        (notice,) = api.client.get("/v1/me/notices", headers=auth).json()["notices"]
        assert notice["acknowledged"]["ack"] == "stopped_processing"
        assert notice["settled"] is True
        (summary,) = client.webhook_events().events
        assert summary.ack == "stopped_processing"

        other = _key(world, api.brand("Other")[1])
        with other:
            for call in (
                lambda: other.acknowledge_webhook_event(event_id, "stopped_processing"),
                lambda: other.replay_webhook_event(event_id),
                lambda: client.acknowledge_webhook_event("evt_" + "0" * 64, "deleted"),
                lambda: client.acknowledge_webhook_event("not-an-id", "deleted"),
            ):
                with pytest.raises(RequestRefusedError) as refused:
                    call()
                assert refused.value.status == 404
            assert other.webhook_events().events == []
        with pytest.raises(RequestRefusedError) as refused:
            client.acknowledge_webhook_event(event_id, "maybe")
        assert refused.value.status == 422


def test_replay_of_one_event_and_of_a_time_range(world: Served, hooks: Receiver) -> None:
    api = world.api
    _, brand_auth, customer, _ = with_a_grant(api)
    with _key(world, brand_auth) as client:
        endpoint = client.create_webhook_endpoint(hooks.url("/replay"), ["data.released"])
        before = datetime.now(UTC) - timedelta(seconds=1)
        release_to(api, brand_auth, customer.address)
        release_to(api, brand_auth, customer.address)
        after = datetime.now(UTC) + timedelta(seconds=1)
        _until_delivered(world, 2)
        first_ids = [r.headers["webhook-id"] for r in hooks.at("/replay")]
        assert len(set(first_ids)) == 2

        assert client.replay_webhook_event(first_ids[0]).queued == 1
        world.api.context.webhook_worker.drain()
        assert [r.headers["webhook-id"] for r in hooks.at("/replay")][2:] == [first_ids[0]]
        assert hooks.at("/replay")[2].body == hooks.at("/replay")[0].body  # the same event, byte for byte

        assert client.replay_webhook_range(endpoint.id, before, after).queued == 2
        world.api.context.webhook_worker.drain()
        assert sorted(r.headers["webhook-id"] for r in hooks.at("/replay")[3:]) == sorted(first_ids)
        assert client.replay_webhook_range(endpoint.id, after, after + timedelta(hours=1)).queued == 0
        with pytest.raises(RequestRefusedError) as refused:
            client.replay_webhook_range(endpoint.id, after, before)
        assert refused.value.status in (400, 422)


def test_an_endpoint_failing_too_long_is_disabled_until_enabled(chain, db_url: str, tmp_path) -> None:
    settings = {**FAST, "webhook_disable_after_seconds": 0.5}
    with served(chain, db_url, tmp_path, **settings) as world, receiver() as hooks:
        api = world.api
        _, brand_auth, customer, _ = with_a_grant(api)
        with _key(world, brand_auth) as client:
            endpoint = client.create_webhook_endpoint(hooks.url("/down"), ["data.released"])
            hooks.answer("/down", (500, b"down"))
            release_to(api, brand_auth, customer.address)

            def disabled() -> bool:
                api.context.webhook_worker.drain()
                return not client.webhook_endpoint(endpoint.id).enabled

            wait_for("the endpoint to be disabled", disabled)
            shown = client.webhook_endpoint(endpoint.id)
            assert shown.disabled_reason is not None
            assert "failed" in shown.disabled_reason
            assert shown.disabled_at is not None
            tried = len(hooks.at("/down"))
            assert tried >= 2
            api.context.webhook_worker.drain()
            assert len(hooks.at("/down")) == tried  # nothing more is sent while disabled

            hooks.answer("/down", (200, b""))
            assert client.enable_webhook_endpoint(endpoint.id).enabled
            _until_delivered(world)
            assert len(hooks.at("/down")) == tried + 1
