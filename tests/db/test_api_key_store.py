"""The API key store on SQLite and PostgreSQL: only a SHA-256 of the secret is kept, a key is checked
against its row on every use (revocation and expiry apply at once), last use is written at most once per
interval, bad names and permissions change nothing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from consent_ledger.addresses import checksum_address
from consent_ledger.apikeys import ApiKeyError, ApiKeyStore, Permission
from consent_ledger.apikeys.models import ApiKey
from consent_ledger.apikeys.store import MAX_ACTIVE_KEYS
from consent_ledger.db.engine import make_session_factory
from consent_ledger.errors import ConflictError, InputError, NotFoundError
from support import ManualClock

BRAND = checksum_address("0x" + "ab" * 20)
OTHER = checksum_address("0x" + "cd" * 20)
YEAR = timedelta(days=365)
START = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def _store(engine: Engine, clock: ManualClock) -> ApiKeyStore:
    return ApiKeyStore(make_session_factory(engine), clock=clock)


def _row(engine: Engine, key_id: str) -> ApiKey:
    with make_session_factory(engine)() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.id == key_id))
        assert row is not None
        return row


def test_a_key_is_stored_as_a_hash_and_checked(engine: Engine) -> None:
    clock = ManualClock(START)
    store = _store(engine, clock)
    made = store.create(BRAND.lower(), " CRM sync ", ["receipts:read", "permissions:read", "receipts:read"], YEAR)
    prefix, key_id, secret = made.key[:4], made.key[4:20], made.key[21:]
    assert (prefix, made.key[20], key_id) == ("clk_", "_", made.record.id)
    assert len(secret) == 43
    assert made.record.brand == BRAND
    assert made.record.name == "CRM sync"
    assert made.record.permissions == ("permissions:read", "receipts:read")
    assert made.record.expires_at == clock.now + YEAR
    row = _row(engine, key_id)
    assert row.secret_sha256 == hashlib.sha256(secret.encode()).digest()
    assert secret not in repr(vars(row))  # the secret itself is nowhere
    assert made.key not in repr(vars(row))
    assert "key" not in made.record.to_json()
    identity = store.authenticate(made.key)
    assert (identity.brand, identity.key_id) == (BRAND, key_id)
    assert identity.permissions == {"permissions:read", "receipts:read"}


def test_wrong_malformed_revoked_and_expired_keys_are_refused(engine: Engine) -> None:
    clock = ManualClock(START)
    store = _store(engine, clock)
    made = store.create(BRAND, "server", [Permission.RECEIPTS_READ], timedelta(days=1))
    wrong_secret = made.key[:-1] + ("A" if made.key[-1] != "A" else "B")
    unknown_id = "clk_" + "0" * 16 + made.key[20:]
    for bad in (wrong_secret, unknown_id, made.key + "x", made.key.upper(), "clk_", "", made.key[:-1]):
        with pytest.raises(ApiKeyError):
            store.authenticate(bad)
    clock.now += timedelta(days=1)
    with pytest.raises(ApiKeyError, match="expired"):
        store.authenticate(made.key)
    clock.now -= timedelta(hours=1)
    assert store.authenticate(made.key).brand == BRAND
    revoked = store.revoke(BRAND, made.record.id)
    assert revoked.revoked_at == clock.now
    with pytest.raises(ApiKeyError, match="revoked"):
        store.authenticate(made.key)
    clock.now += timedelta(minutes=5)
    assert store.revoke(BRAND, made.record.id).revoked_at == revoked.revoked_at  # again: no change


def test_only_its_brand_revokes_a_key(engine: Engine) -> None:
    store = _store(engine, ManualClock(START))
    made = store.create(BRAND, "server", ["releases:request"], YEAR)
    for brand, key_id in ((OTHER, made.record.id), (BRAND, "0" * 16), (BRAND, "not hex"), (BRAND, "")):
        with pytest.raises(NotFoundError):
            store.revoke(brand, key_id)
    assert store.authenticate(made.key).brand == BRAND
    assert [k.id for k in store.of_brand(BRAND)] == [made.record.id]
    assert store.of_brand(OTHER) == []


def test_last_use_is_written_at_most_once_a_minute(engine: Engine) -> None:
    clock = ManualClock(START)
    store = _store(engine, clock)
    made = store.create(BRAND, "server", ["receipts:read"], YEAR)
    assert _row(engine, made.record.id).last_used_at is None
    store.authenticate(made.key)
    first = clock.now
    assert _row(engine, made.record.id).last_used_at == first
    for _ in range(5):
        clock.now += timedelta(seconds=11)
        store.authenticate(made.key)
        assert _row(engine, made.record.id).last_used_at == first  # within the minute: no write
    clock.now = first + timedelta(minutes=1)
    store.authenticate(made.key)
    assert _row(engine, made.record.id).last_used_at == first + timedelta(minutes=1)
    assert store.of_brand(BRAND)[0].last_used_at == first + timedelta(minutes=1)


@pytest.mark.parametrize(
    ("name", "permissions", "lifetime", "error"),
    [
        ("", ["receipts:read"], YEAR, InputError),
        ("x" * 121, ["receipts:read"], YEAR, InputError),
        ("server", [], YEAR, InputError),
        ("server", ["receipts:write"], YEAR, InputError),
        ("server", ["receipts:read"], timedelta(0), InputError),
        ("server", ["receipts:read"], timedelta(days=731), InputError),
    ],
)
def test_bad_keys_are_refused_and_change_nothing(
    engine: Engine, name: str, permissions: list[str], lifetime: timedelta, error: type[Exception]
) -> None:
    store = _store(engine, ManualClock(START))
    with pytest.raises(error):
        store.create(BRAND, name, permissions, lifetime)
    assert store.of_brand(BRAND) == []


def test_unrevoked_keys_per_brand_are_bounded(engine: Engine) -> None:
    store = _store(engine, ManualClock(START))
    made = [store.create(BRAND, f"k{i}", ["receipts:read"], YEAR) for i in range(MAX_ACTIVE_KEYS)]
    with pytest.raises(ConflictError):
        store.create(BRAND, "one more", ["receipts:read"], YEAR)
    assert store.create(OTHER, "another brand's", ["receipts:read"], YEAR)
    store.revoke(BRAND, made[0].record.id)
    assert store.create(BRAND, "one more", ["receipts:read"], YEAR)
    assert len(store.of_brand(BRAND)) == MAX_ACTIVE_KEYS + 1
