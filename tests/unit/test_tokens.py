"""Bearer tokens (HMAC-signed, short-lived, identity only), roles and the in-memory nonce store."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from consent_ledger.auth import (
    MIN_SECRET_BYTES,
    ForbiddenError,
    Identity,
    MemoryNonceStore,
    Principal,
    Role,
    TokenError,
    TokenSigner,
    new_nonce,
    require,
    roles_for,
)
from consent_ledger.errors import ConfigError, InputError

SECRET = bytes(range(32))
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
BRAND = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
AUDITOR = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
NOW = datetime(2026, 3, 1, 12, 0, 0, 750000, tzinfo=UTC)
TTL = 900


@pytest.fixture
def signer() -> TokenSigner:
    return TokenSigner(SECRET, ttl_seconds=TTL)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def test_issue_verify_round_trip(signer: TokenSigner) -> None:
    token = signer.issue(ADDRESS.lower(), NOW)
    identity = signer.verify(token, NOW + timedelta(seconds=10))
    assert identity == Identity(address=ADDRESS, expires_at=datetime(2026, 3, 1, 12, 15, 0, tzinfo=UTC))


def test_payload_layout(signer: TokenSigner) -> None:
    token = signer.issue(ADDRESS, NOW)
    payload_segment, mac_segment = token.split(".")
    payload = json.loads(unb64(payload_segment))
    assert set(payload) == {"sub", "iat", "exp", "jti"}  # who signed in, never what they may do
    assert payload["sub"] == ADDRESS
    assert payload["exp"] - payload["iat"] == TTL
    assert payload["iat"] == int(NOW.timestamp())
    assert len(unb64(mac_segment)) == 32
    assert "=" not in token


def test_each_token_has_its_own_id(signer: TokenSigner) -> None:
    first = signer.issue(ADDRESS, NOW)
    second = signer.issue(ADDRESS, NOW)
    assert first != second


def test_expired(signer: TokenSigner) -> None:
    token = signer.issue(ADDRESS, NOW)
    expires_at = datetime(2026, 3, 1, 12, 15, 0, tzinfo=UTC)
    signer.verify(token, expires_at - timedelta(microseconds=1))
    with pytest.raises(TokenError, match="expired"):
        signer.verify(token, expires_at)
    with pytest.raises(TokenError, match="expired"):
        signer.verify(token, NOW + timedelta(days=1))


def test_tampered_payload(signer: TokenSigner) -> None:
    token = signer.issue(ADDRESS, NOW)
    payload_segment, mac_segment = token.split(".")
    payload = json.loads(unb64(payload_segment))
    payload["sub"] = AUDITOR
    forged = b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()) + "." + mac_segment
    with pytest.raises(TokenError, match="signature"):
        signer.verify(forged, NOW)


def test_tampered_mac(signer: TokenSigner) -> None:
    token = signer.issue(ADDRESS, NOW)
    payload_segment, mac_segment = token.split(".")
    mac = bytearray(unb64(mac_segment))
    mac[0] ^= 1
    with pytest.raises(TokenError, match="signature"):
        signer.verify(f"{payload_segment}.{b64(bytes(mac))}", NOW)


def test_non_canonical_base64_is_refused(signer: TokenSigner) -> None:
    token = signer.issue(ADDRESS, NOW)
    payload_segment, mac_segment = token.split(".")
    # 32 bytes -> 43 characters whose last one carries 2 unused bits: setting one still decodes the same.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet[alphabet.index(mac_segment[-1]) ^ 1]
    with pytest.raises(TokenError, match="canonical"):
        signer.verify(f"{payload_segment}.{mac_segment[:-1]}{last}", NOW)


def test_wrong_secret(signer: TokenSigner) -> None:
    token = signer.issue(ADDRESS, NOW)
    other = TokenSigner(bytes(reversed(SECRET)), ttl_seconds=TTL)
    with pytest.raises(TokenError, match="signature"):
        other.verify(token, NOW)


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b.c", "!!.??", "YQ==.YQ==", ".", "abc.", ".abc", "x" * 5000],
)
def test_malformed_tokens(signer: TokenSigner, token: str) -> None:
    with pytest.raises(TokenError, match="malformed"):
        signer.verify(token, NOW)


def test_validly_signed_but_wrong_shape_payload_is_refused(signer: TokenSigner) -> None:
    segment = b64(b'{"sub":"0xabc","iat":0,"exp":99999999999,"jti":"x"}')
    mac = signer._mac(segment)  # only reachable with the secret: tests the defence in depth
    with pytest.raises(TokenError, match="checksummed"):
        signer.verify(f"{segment}.{b64(mac)}", NOW)


def test_short_secret_refused() -> None:
    with pytest.raises(ConfigError, match=f"at least {MIN_SECRET_BYTES}"):
        TokenSigner(b"x" * 31, ttl_seconds=TTL)


@pytest.mark.parametrize("ttl", [0, -5, True])
def test_bad_ttl_refused(ttl: int) -> None:
    with pytest.raises(ConfigError, match="ttl"):
        TokenSigner(SECRET, ttl_seconds=ttl)


def test_secret_is_not_in_repr(signer: TokenSigner) -> None:
    assert "32 bytes" in repr(signer)
    assert repr(SECRET) not in repr(signer)


def test_issue_refuses_bad_input(signer: TokenSigner) -> None:
    with pytest.raises(InputError, match="not an Ethereum address"):
        signer.issue("0x1234", NOW)
    with pytest.raises(InputError, match="timezone-aware"):
        signer.issue(ADDRESS, NOW.replace(tzinfo=None))


# --- roles -------------------------------------------------------------------------------------------


def test_roles_for_plain_customer() -> None:
    assert roles_for(ADDRESS, is_brand=False, auditors={AUDITOR}) == {Role.CUSTOMER}


def test_roles_for_brand_and_auditor_match_case_insensitively() -> None:
    auditors = {"0x" + AUDITOR[2:].upper()}
    assert roles_for(BRAND, is_brand=True, auditors=auditors) == {Role.CUSTOMER, Role.BRAND}
    assert roles_for(AUDITOR.lower(), is_brand=False, auditors=auditors) == {Role.CUSTOMER, Role.AUDITOR}
    assert roles_for(BRAND.upper().replace("0X", "0x"), is_brand=True, auditors={BRAND}) == set(Role)


def test_roles_for_refuses_bad_address() -> None:
    with pytest.raises(InputError):
        roles_for("acme", is_brand=False, auditors=set())


def test_require() -> None:
    principal = Principal(address=ADDRESS, roles=frozenset({"customer"}), expires_at=NOW)
    require(principal, Role.CUSTOMER)
    with pytest.raises(ForbiddenError, match=f"needs the brand role; {ADDRESS} has: customer"):
        require(principal, Role.BRAND)
    with pytest.raises(ForbiddenError, match="has: none"):
        require(Principal(address=ADDRESS, roles=frozenset(), expires_at=NOW), Role.AUDITOR)


# --- nonce store ------------------------------------------------------------------------------------------


def test_new_nonce_is_long_random_alphanumeric() -> None:
    nonces = {new_nonce() for _ in range(100)}
    assert len(nonces) == 100
    assert all(len(n) >= 17 and n.isascii() and n.isalnum() for n in nonces)


def test_memory_nonce_store_prunes_and_caps() -> None:
    store = MemoryNonceStore(ttl_seconds=60, max_entries=3)
    old = store.issue(NOW)
    assert not store.consume(old, NOW + timedelta(seconds=60))
    assert len(store) == 0
    first, *rest = [store.issue(NOW) for _ in range(4)]
    assert len(store) == 3
    assert not store.consume(first, NOW), "the oldest nonce is dropped when the store is full"
    assert all(store.consume(n, NOW) for n in rest)
    assert not store.consume("neverissued1", NOW)


@pytest.mark.parametrize("options", [{"ttl_seconds": 0}, {"ttl_seconds": 60, "max_entries": 0}])
def test_memory_nonce_store_refuses_bad_settings(options: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        MemoryNonceStore(**options)


def test_memory_nonce_store_is_thread_safe() -> None:
    store = MemoryNonceStore(ttl_seconds=60)
    nonce = store.issue(NOW)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: store.consume(nonce, NOW), range(64)))
    assert results.count(True) == 1
