"""The webhook endpoint store on SQLite and PostgreSQL: an endpoint is made with one secret, shown once and
kept only sealed; endpoints_for finds the enabled endpoints subscribed to a type; a rotation keeps the old
secret valid for 24 hours (never more than two); disable is a compare-and-set on the version, so it loses to
a change made after the worker looked; brands reach only their own endpoints; bad input changes nothing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.addresses import checksum_address
from consent_ledger.db.engine import make_session_factory
from consent_ledger.errors import ConflictError, InputError, NotFoundError
from consent_ledger.vault import MasterKey
from consent_ledger.vault.errors import TamperedError
from consent_ledger.webhooks.endpoints import MAX_ENDPOINTS, ROTATION_OVERLAP, EndpointStore
from consent_ledger.webhooks.models import WebhookEndpoint, WebhookEndpointSecret

BRAND = checksum_address("0x" + "ab" * 20)
OTHER = checksum_address("0x" + "cd" * 20)
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
URL = "https://hooks.example.com/consent"


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def store(master_key: MasterKey) -> EndpointStore:
    return EndpointStore(master_key)


def _count(sessions: sessionmaker[Session], table: type) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_an_endpoint_is_made_with_one_sealed_secret(sessions: sessionmaker[Session], store: EndpointStore) -> None:
    with sessions.begin() as session:
        made = store.create(session, BRAND.lower(), URL, ["consent.revoked", "consent.granted"], " CRM ", NOW)
    endpoint = made.endpoint
    assert (endpoint.brand, endpoint.url, endpoint.description, endpoint.version) == (BRAND, URL, "CRM", 1)
    assert endpoint.event_types == ("consent.granted", "consent.revoked")  # EVENT_TYPES order
    assert endpoint.enabled
    assert endpoint.failing_since is None
    with sessions() as session:
        (row,) = session.scalars(select(WebhookEndpointSecret)).all()
        assert made.secret.encode() not in row.sealed
        assert row.expires_at is None
        assert made.secret not in repr(vars(row))
        assert store.signing_secrets(session, endpoint.id, NOW) == [made.secret]
        assert store.get(session, BRAND, endpoint.id.upper()) == endpoint
        assert store.of_brand(session, BRAND) == [endpoint]
        with pytest.raises(TamperedError):  # another installation's key cannot open it
            EndpointStore(MasterKey.generate()).signing_secrets(session, endpoint.id, NOW)


def test_endpoints_for_finds_enabled_subscribed_endpoints(
    sessions: sessionmaker[Session], store: EndpointStore
) -> None:
    with sessions.begin() as session:
        revoked = store.create(session, BRAND, URL, ["consent.revoked"], "", NOW).endpoint
        kinds = ["consent.revoked", "data.erased"]
        everything = store.create(session, BRAND, URL + "/all", kinds, "", NOW + timedelta(seconds=1)).endpoint
        store.create(session, OTHER, URL, ["consent.revoked"], "", NOW)
    with sessions.begin() as session:
        assert [e.id for e in store.endpoints_for(session, BRAND, "consent.revoked")] == [revoked.id, everything.id]
        assert [e.id for e in store.endpoints_for(session, BRAND, "data.erased")] == [everything.id]
        assert store.endpoints_for(session, BRAND, "consent.granted") == []
        assert store.disable(session, revoked.id, revoked.version, "failing for 3 days", NOW)
    with sessions() as session:
        assert [e.id for e in store.endpoints_for(session, BRAND, "consent.revoked")] == [everything.id]


def test_a_rotation_keeps_the_old_secret_for_24_hours_and_never_more_than_two(
    sessions: sessionmaker[Session], store: EndpointStore
) -> None:
    with sessions.begin() as session:
        made = store.create(session, BRAND, URL, ["consent.revoked"], "", NOW)
    endpoint_id = made.endpoint.id
    later = NOW + timedelta(hours=1)
    with sessions.begin() as session:
        second = store.rotate(session, BRAND, endpoint_id, later)
    assert second.secret != made.secret
    assert second.previous_secret_expires_at == later + ROTATION_OVERLAP
    with sessions() as session:
        assert store.signing_secrets(session, endpoint_id, later) == [second.secret, made.secret]
        just_before = later + ROTATION_OVERLAP - timedelta(seconds=1)
        assert store.signing_secrets(session, endpoint_id, just_before) == [second.secret, made.secret]
        assert store.signing_secrets(session, endpoint_id, later + ROTATION_OVERLAP) == [second.secret]
    with sessions.begin() as session:
        third = store.rotate(session, BRAND, endpoint_id, later + timedelta(hours=2))
    with sessions() as session:  # the first secret ended at the second rotation
        assert store.signing_secrets(session, endpoint_id, later + timedelta(hours=2)) == [third.secret, second.secret]
    assert _count(sessions, WebhookEndpointSecret) == 2


def test_disable_is_a_compare_and_set_and_reenable_clears_it(
    sessions: sessionmaker[Session], store: EndpointStore
) -> None:
    with sessions.begin() as session:
        endpoint = store.create(session, BRAND, URL, ["consent.revoked"], "", NOW).endpoint
    with sessions.begin() as session:  # the worker starts a failing streak (no version change)
        assert store.note_failing(session, endpoint.id, NOW) == NOW
        assert store.note_failing(session, endpoint.id, NOW + timedelta(hours=1)) == NOW
    with sessions.begin() as session:  # the brand edits the endpoint after the worker read version 1
        edited = store.update(session, BRAND, endpoint.id, url=URL + "/v2")
    assert edited.version == 2
    assert edited.failing_since == NOW
    with sessions.begin() as session:
        assert not store.disable(session, endpoint.id, endpoint.version, "failing", NOW)
        assert store.disable(session, endpoint.id, edited.version, "failing since 2026-12-02", NOW)
        assert not store.disable(session, endpoint.id, edited.version + 1, "again", NOW)  # already disabled
    with sessions() as session:
        disabled = store.get(session, BRAND, endpoint.id)
    assert (disabled.enabled, disabled.disabled_reason, disabled.version) == (False, "failing since 2026-12-02", 3)
    with sessions.begin() as session:
        again = store.reenable(session, BRAND, endpoint.id, NOW)
    assert (again.enabled, again.disabled_reason, again.failing_since, again.version) == (True, None, None, 4)
    with sessions.begin() as session:
        store.note_failing(session, endpoint.id, NOW)
        store.note_ok(session, endpoint.id)
        assert store.get(session, BRAND, endpoint.id).failing_since is None


def test_brands_reach_only_their_own_endpoints(sessions: sessionmaker[Session], store: EndpointStore) -> None:
    with sessions.begin() as session:
        endpoint = store.create(session, BRAND, URL, ["consent.revoked"], "", NOW).endpoint
    for call in (
        lambda s: store.get(s, OTHER, endpoint.id),
        lambda s: store.update(s, OTHER, endpoint.id, description="mine"),
        lambda s: store.rotate(s, OTHER, endpoint.id, NOW),
        lambda s: store.reenable(s, OTHER, endpoint.id, NOW),
        lambda s: store.delete(s, OTHER, endpoint.id),
        lambda s: store.get(s, BRAND, "not-a-uuid"),
        lambda s: store.get(s, BRAND, "00000000-0000-0000-0000-000000000000"),
    ):
        with sessions.begin() as session, pytest.raises(NotFoundError):
            call(session)
    with sessions.begin() as session:
        assert store.get(session, BRAND, endpoint.id) == endpoint
        store.delete(session, BRAND, endpoint.id)
    assert (_count(sessions, WebhookEndpoint), _count(sessions, WebhookEndpointSecret)) == (0, 0)
    with sessions() as session:
        assert store.signing_secrets(session, endpoint.id, NOW) == []
        assert store.endpoint(session, endpoint.id) is None


def test_bad_input_changes_nothing(sessions: sessionmaker[Session], store: EndpointStore) -> None:
    for kinds, description, message in (
        (["consent.revoked", "consent.everything"], "", "unknown event type"),
        ([], "", "at least one event type"),
        (["consent.revoked"], "x" * 201, "at most 200"),
        (["consent.revoked"], "two\nlines", "control characters"),
    ):
        with sessions.begin() as session, pytest.raises(InputError, match=message):
            store.create(session, BRAND, URL, kinds, description, NOW)
    with sessions.begin() as session, pytest.raises(InputError):
        store.create(session, "0x1234", URL, ["consent.revoked"], "", NOW)
    assert _count(sessions, WebhookEndpoint) == 0
    with sessions.begin() as session:
        endpoint = store.create(session, BRAND, URL, ["consent.revoked"], "", NOW).endpoint
    with sessions.begin() as session, pytest.raises(InputError):
        store.update(session, BRAND, endpoint.id, description="fine", event_types=["nope"])
    with sessions() as session:
        assert store.get(session, BRAND, endpoint.id) == endpoint


def test_a_brand_holds_a_bounded_number_of_endpoints(sessions: sessionmaker[Session], store: EndpointStore) -> None:
    with sessions.begin() as session:
        for n in range(MAX_ENDPOINTS):
            store.create(session, BRAND, f"{URL}/{n}", ["consent.revoked"], "", NOW)
    with sessions.begin() as session, pytest.raises(ConflictError, match="delete one first"):
        store.create(session, BRAND, URL, ["consent.revoked"], "", NOW)
    with sessions.begin() as session:
        store.create(session, OTHER, URL, ["consent.revoked"], "", NOW)


def test_two_replicas_disabling_at_once_disable_once(sessions: sessionmaker[Session], store: EndpointStore) -> None:
    """The second replica's UPDATE waits for the first's transaction and then finds the version moved on."""
    with sessions.begin() as session:
        endpoint = store.create(session, BRAND, URL, ["consent.revoked"], "", NOW).endpoint
    results: list[bool] = []
    first = sessions()
    first.begin()
    results.append(store.disable(first, endpoint.id, endpoint.version, "replica one", NOW))

    def second_replica() -> None:
        with sessions.begin() as session:
            results.append(store.disable(session, endpoint.id, endpoint.version, "replica two", NOW))

    worker = threading.Thread(target=second_replica)
    worker.start()
    worker.join(timeout=0.5)  # it waits on the first transaction's row lock (or on SQLite's write lock)
    first.commit()
    first.close()
    worker.join()
    assert sorted(results) == [False, True]
    with sessions() as session:
        row = store.get(session, BRAND, endpoint.id)
    assert (row.disabled_reason, row.version) == ("replica one", 2)
