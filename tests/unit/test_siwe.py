"""Sign-In with Ethereum (EIP-4361): text layout, strict parsing, signature and nonce checks. No chain."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from consent_ledger.auth import (
    ChainMismatchError,
    DomainMismatchError,
    ExpiredError,
    InvalidMessageError,
    InvalidSignatureError,
    MemoryNonceStore,
    NonceError,
    NotYetValidError,
    SiweMessage,
    new_nonce,
    parse,
    verify,
)
from consent_ledger.errors import InputError

# anvil's first two default keys: public test material.
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
OTHER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
ADDRESS = Account.from_key(KEY).address
DOMAIN = "consent.example"
CHAIN_ID = 31337
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)

# The first example of EIP-4361 ("an example SIWE Message with an implicit scheme"), verbatim.
SPEC_EXAMPLE = """example.com wants you to sign in with your Ethereum account:
0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2

I accept the ExampleOrg Terms of Service: https://example.com/tos

URI: https://example.com/login
Version: 1
Chain ID: 1
Nonce: 32891756
Issued At: 2021-09-30T16:25:24Z
Resources:
- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/
- https://example.com/my-web2-claim.json"""


def message(nonce: str = "abcdefgh12345678", /, **changes: object) -> SiweMessage:
    base = SiweMessage(
        domain=DOMAIN,
        address=ADDRESS,
        statement="Sign in to Consent Ledger.",
        uri=f"https://{DOMAIN}/login",
        chain_id=CHAIN_ID,
        nonce=nonce,
        issued_at=NOW - timedelta(seconds=30),
        expiration_time=NOW + timedelta(minutes=10),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def sign(text: str, key: str = KEY) -> str:
    return "0x" + bytes(Account.sign_message(encode_defunct(text=text), key).signature).hex()


@pytest.fixture
def store() -> MemoryNonceStore:
    return MemoryNonceStore(ttl_seconds=300)


def check(store: MemoryNonceStore, text: str, signature: str, **changes: object) -> SiweMessage:
    """`verify` with the test defaults, consuming nonces from `store`."""
    options = {"domain": DOMAIN, "chain_id": CHAIN_ID, "now": NOW, "nonce_is_valid": lambda n: store.consume(n, NOW)}
    return verify(text, signature, **(options | changes))  # type: ignore[arg-type]


def test_to_text_matches_the_spec_layout() -> None:
    text = message(request_id="req-1", resources=["https://consent.example/a"]).to_text()
    assert text == (
        f"consent.example wants you to sign in with your Ethereum account:\n{ADDRESS}\n\n"
        "Sign in to Consent Ledger.\n\n"
        "URI: https://consent.example/login\nVersion: 1\nChain ID: 31337\nNonce: abcdefgh12345678\n"
        "Issued At: 2026-03-01T11:59:30Z\nExpiration Time: 2026-03-01T12:10:00Z\n"
        "Request ID: req-1\nResources:\n- https://consent.example/a"
    )
    assert f"{ADDRESS}\n\n\nURI: " in message(statement=None).to_text(), "no statement: two empty lines"


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"statement": None, "expiration_time": None},
        {"statement": ""},
        {"not_before": NOW - timedelta(minutes=1), "request_id": "a1:b@c", "resources": ["ipfs://x", "urn:a:b"]},
        {"request_id": ""},
        {"scheme": "https", "domain": "consent.example:8443"},
        {"domain": "user@[::1]:3000", "uri": "http://[::1]:3000/?q=1#f"},
        {"issued_at": datetime(2026, 3, 1, 13, 59, 30, 250000, tzinfo=timezone(timedelta(hours=2)))},
        {"issued_at": datetime(2026, 3, 1, 6, 29, 30, 1, tzinfo=timezone(timedelta(hours=-5, minutes=-30)))},
        {"chain_id": 0, "version": "1", "nonce": "A" * 64},
    ],
)
def test_parse_inverts_to_text(changes: dict[str, object]) -> None:
    original = message(**changes)
    assert parse(original.to_text()) == original
    assert parse(original.to_text()).to_text() == original.to_text()
    assert hash(parse(original.to_text())) == hash(original)


def test_spec_example_parses() -> None:
    parsed = parse(SPEC_EXAMPLE)
    assert parsed == SiweMessage(
        domain="example.com",
        address="0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
        statement="I accept the ExampleOrg Terms of Service: https://example.com/tos",
        uri="https://example.com/login",
        chain_id=1,
        nonce="32891756",
        issued_at=datetime(2021, 9, 30, 16, 25, 24, tzinfo=UTC),
        resources=[
            "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
            "https://example.com/my-web2-claim.json",
        ],
    )
    assert parsed.to_text() == SPEC_EXAMPLE


def test_spec_examples_with_port_and_with_scheme_parse() -> None:
    with_port = parse(SPEC_EXAMPLE.replace("example.com wants", "example.com:3388 wants", 1))
    assert (with_port.scheme, with_port.domain) == (None, "example.com:3388")
    with_scheme = parse("https://" + SPEC_EXAMPLE)
    assert (with_scheme.scheme, with_scheme.domain) == ("https", "example.com")
    assert with_scheme.to_text() == "https://" + SPEC_EXAMPLE


def test_rfc3339_variants_parse() -> None:
    text = message().to_text().replace("2026-03-01T11:59:30Z", "2026-03-01t13:59:30.123456789+02:00")
    assert parse(text).issued_at == datetime(2026, 3, 1, 11, 59, 30, 123456, tzinfo=UTC)


def test_signed_message_verifies(store: MemoryNonceStore) -> None:
    text = message(store.issue(NOW)).to_text()
    assert check(store, text, sign(text)) == parse(text)


def test_verify_accepts_bare_hex_signature_no_statement_and_small_clock_skew(store: MemoryNonceStore) -> None:
    text = message(store.issue(NOW), statement=None, issued_at=NOW + timedelta(minutes=4)).to_text()
    assert check(store, text, sign(text)[2:]).statement is None


def test_explicit_scheme_must_match(store: MemoryNonceStore) -> None:
    text = message(store.issue(NOW), scheme="http").to_text()
    with pytest.raises(DomainMismatchError, match="scheme"):
        check(store, text, sign(text))
    assert check(store, text, sign(text), scheme="http").scheme == "http"


@pytest.mark.parametrize(
    ("error", "match", "changes"),
    [
        pytest.param(DomainMismatchError, "evil.example", {"domain": "evil.example"}, id="wrong-domain"),
        pytest.param(ChainMismatchError, "chain 31337, expected 1", {"chain_id": 1}, id="wrong-chain-id"),
        pytest.param(ExpiredError, "expired", {"expiration_time": NOW - timedelta(seconds=1)}, id="expired"),
        pytest.param(ExpiredError, "expired", {"expiration_time": NOW}, id="expires-exactly-now"),
        pytest.param(NotYetValidError, "not valid before", {"not_before": NOW + timedelta(seconds=1)}, id="not-yet"),
        pytest.param(NotYetValidError, "future", {"issued_at": NOW + timedelta(minutes=5, seconds=1)}, id="future"),
    ],
)
def test_verify_refuses(
    store: MemoryNonceStore, error: type[Exception], match: str, changes: dict[str, object]
) -> None:
    """Each check fails on its own, and a failed verification leaves the nonce unused."""
    expected = {key: value for key, value in changes.items() if key in ("domain", "chain_id")}
    nonce = store.issue(NOW)
    text = message(nonce, **{key: value for key, value in changes.items() if key not in expected}).to_text()
    with pytest.raises(error, match=match):
        check(store, text, sign(text), **expected)
    assert store.consume(nonce, NOW), "a failed verification must not consume the nonce"


@pytest.mark.parametrize(
    ("key", "tamper"),
    [
        pytest.param(OTHER_KEY, lambda t: t, id="signature-by-another-key"),
        pytest.param(KEY, lambda t: t.replace("Ledger.", "Ledger and pay."), id="statement-tampered-after-signing"),
        pytest.param(KEY, lambda t: t + "\nRequest ID: x", id="line-added-after-signing"),
    ],
)
def test_wrong_signer(store: MemoryNonceStore, key: str, tamper: Callable[[str], str]) -> None:
    text = message(nonce := store.issue(NOW)).to_text()
    with pytest.raises(InvalidSignatureError, match="signed by"):
        check(store, tamper(text), sign(text, key))
    assert store.consume(nonce, NOW)


@pytest.mark.parametrize("signature", ["", "0x1234", "zz" * 65, "0x" + "11" * 64 + "05", "0x" + "00" * 65])
def test_malformed_signature(store: MemoryNonceStore, signature: str) -> None:
    text = message(store.issue(NOW)).to_text()
    with pytest.raises(InvalidSignatureError):
        check(store, text, signature)


def test_malformed_message_is_refused_before_anything_else(store: MemoryNonceStore) -> None:
    text = message(store.issue(NOW)).to_text().replace(ADDRESS, ADDRESS.lower())
    with pytest.raises(InvalidMessageError, match="checksummed"):
        check(store, text, sign(text))


def test_nonce_reused(store: MemoryNonceStore) -> None:
    text = message(store.issue(NOW)).to_text()
    signature = sign(text)
    check(store, text, signature)
    with pytest.raises(NonceError, match="already used"):
        check(store, text, signature)


@pytest.mark.parametrize("issued", [None, NOW - timedelta(seconds=301)], ids=["unknown-nonce", "nonce-expired"])
def test_nonce_not_issued_or_expired(store: MemoryNonceStore, issued: datetime | None) -> None:
    text = message(new_nonce() if issued is None else store.issue(issued)).to_text()
    with pytest.raises(NonceError):
        check(store, text, sign(text))


def test_naive_now_is_refused(store: MemoryNonceStore) -> None:
    text = message(store.issue(NOW)).to_text()
    with pytest.raises(InputError, match="timezone-aware"):
        check(store, text, sign(text), now=NOW.replace(tzinfo=None))


GOOD = message().to_text()
URI_LINE = "URI: https://consent.example/login"

# (id, text to replace or None to append, replacement or appended text, expected problem)
MALFORMED = [
    ("lower-case-address", ADDRESS, ADDRESS.lower(), "not EIP-55 checksummed"),
    ("short-address", ADDRESS, ADDRESS[:-1], "40 hex digits"),
    ("short-nonce", "Nonce: abcdefgh12345678", "Nonce: abc1234", "at least 8"),
    ("nonce-punctuation", "Nonce: abcdefgh12345678", "Nonce: abcd-efgh-1234", "nonce"),
    ("bad-timestamp", "2026-03-01T11:59:30Z", "2026-03-01 11:59:30", "RFC 3339"),
    ("impossible-date", "2026-03-01T11:59:30Z", "2026-02-30T11:59:30Z", "calendar"),
    ("timestamp-without-offset", "T12:10:00Z", "T12:10:00", "RFC 3339"),
    ("missing-uri-line", URI_LINE + "\n", "", "expected 'URI: ...'"),
    ("uri-without-space", URI_LINE, "URI:https://x", "expected 'URI"),
    ("relative-uri", URI_LINE, "URI: /login", "uri"),
    ("extra-garbage-line", None, "\nFavourite Colour: blue", "unexpected line"),
    ("garbage-line-mid", "\nVersion: 1\n", "\nVersion: 1\nhello\n", "expected 'Chain ID"),
    ("version-2", "Version: 1", "Version: 2", "version must be '1'"),
    ("hex-chain-id", "Chain ID: 31337", "Chain ID: 0x7a69", "decimal"),
    ("duplicate-optional", None, "\nExpiration Time: 2026-03-01T12:10:00Z", "duplicate 'Expiration Time'"),
    ("duplicate-required", None, "\nNonce: abcdefgh12345678", "duplicate 'Nonce'"),
    ("out-of-order", None, "\nRequest ID: r\nNot Before: 2026-03-01T11:00:00Z", "out of order"),
    ("resource-without-dash", None, "\nResources:\nhttps://x.example", "resource line"),
    ("resource-not-a-uri", None, "\nResources:\n- not a uri", "RFC 3986 URI"),
    ("resource-without-header", None, "\n- https://x.example", "unexpected line"),
    ("resources-inline", None, "\nResources: https://x.example", "alone on its line"),
    ("request-id-space", None, "\nRequest ID: a b", "request ID"),
    ("trailing-newline", None, "\n", "unexpected line ''"),
    ("crlf", "\n", "\r\n", "carriage return"),
    ("two-line-statement", "Ledger.\n", "Ledger.\nSecond line.\n", "single line"),
    ("non-ascii-statement", "Ledger.", "Ledger caf\u00e9", "statement"),
    ("statement-percent", "Ledger.", "100% sure", "statement"),
    ("no-blank-after-address", "\n\nSign in", "\nSign in", "empty line after the address"),
    ("bad-header", " wants you to sign in", " wants you to log in", "line 1"),
    ("domain-with-space", "consent.example wants", "consent example wants", "domain"),
    ("empty-scheme", "consent.example wants", "://consent.example wants", "scheme"),
    ("empty", GOOD, "", "line 1"),
    ("truncated", GOOD[GOOD.index("\nURI: ") :], "", "message ends early"),
    ("too-long", None, "\nRequest ID: " + "a" * 9000, "longer than"),
]


@pytest.mark.parametrize(("old", "new", "problem"), [pytest.param(*m[1:], id=m[0]) for m in MALFORMED])
def test_malformed_message_is_refused(old: str | None, new: str, problem: str) -> None:
    assert old is None or old in GOOD
    text = GOOD + new if old is None else GOOD.replace(old, new, 1 if old != "\n" else -1)
    with pytest.raises(InvalidMessageError, match=problem):
        parse(text)


@pytest.mark.parametrize(
    "changes",
    [
        {"issued_at": NOW.replace(tzinfo=None)},
        {"chain_id": True},
        {"chain_id": -1},
        {"resources": "https://not-a-list.example"},
        {"issued_at": datetime(2026, 1, 1, tzinfo=timezone(timedelta(seconds=30)))},
    ],
)
def test_invalid_fields_are_refused_at_construction(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidMessageError):
        message(**changes)
