"""Sign-In with Ethereum (EIP-4361): build, strictly parse and verify sign-in messages.

The PyPI `siwe` package pins web3 < 8, so this is our own implementation of the spec's ABNF. Only
externally owned accounts are supported: the signature is an EIP-191 `personal_sign` signature recovered
with eth-account. Contract wallets (EIP-1271 `isValidSignature`) are left for later.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_keys.exceptions import BadSignature
from eth_utils.address import is_checksum_address, to_checksum_address
from eth_utils.exceptions import ValidationError

from consent_ledger.auth import _grammar as grammar
from consent_ledger.auth._common import require_aware
from consent_ledger.auth._grammar import check, check_rfc3339_datetime, format_rfc3339, parse_rfc3339
from consent_ledger.auth.errors import (
    ChainMismatchError,
    DomainMismatchError,
    ExpiredError,
    InvalidMessageError,
    InvalidSignatureError,
    NonceError,
    NotYetValidError,
)

HEADER_SUFFIX = " wants you to sign in with your Ethereum account:"
MAX_CLOCK_SKEW = timedelta(minutes=5)
MAX_MESSAGE_LENGTH = 8192  # the spec asks implementers to bound term lengths against denial of service
NONCE_LENGTH = 22  # 22 characters from 62 symbols: about 131 bits
_NONCE_ALPHABET = string.ascii_letters + string.digits

_REQUIRED_TAGS = ("URI", "Version", "Chain ID", "Nonce", "Issued At")
_OPTIONAL_TAGS = ("Expiration Time", "Not Before", "Request ID", "Resources")


@dataclass(frozen=True, slots=True, kw_only=True)
class SiweMessage:
    """One EIP-4361 message. Construction validates every field, so `to_text()` always yields a valid message.

    `scheme` is the spec's optional request scheme (`https://example.com wants you...`). `resources` accepts
    any sequence of URIs and is stored as a tuple so the message stays immutable and hashable.
    """

    domain: str
    address: str
    statement: str | None = None
    uri: str
    version: str = "1"
    chain_id: int
    nonce: str
    issued_at: datetime
    expiration_time: datetime | None = None
    not_before: datetime | None = None
    request_id: str | None = None
    resources: Sequence[str] = ()
    scheme: str | None = None

    def __post_init__(self) -> None:
        if self.scheme is not None:
            check(grammar.SCHEME, self.scheme, "scheme must be an RFC 3986 scheme (like https)")
        check(grammar.AUTHORITY, self.domain, "domain must be an RFC 3986 authority (host[:port])")
        check(grammar.ADDRESS, self.address, "address must be 0x followed by 40 hex digits")
        if not is_checksum_address(self.address):
            raise InvalidMessageError(
                f"address {self.address} is not EIP-55 checksummed (expected {to_checksum_address(self.address)})"
            )
        if self.statement is not None:
            check(grammar.STATEMENT, self.statement, "statement must be one line of RFC 3986 reserved/unreserved chars")
        check(grammar.URI, self.uri, "uri must be an RFC 3986 URI")
        if self.version != "1":
            raise InvalidMessageError(f"version must be '1', got {self.version!r}")
        if not isinstance(self.chain_id, int) or isinstance(self.chain_id, bool) or self.chain_id < 0:
            raise InvalidMessageError(f"chain ID must be a non-negative integer, got {self.chain_id!r}")
        check(grammar.NONCE, self.nonce, "nonce must be at least 8 ASCII letters or digits")
        check_rfc3339_datetime(self.issued_at, "issued-at")
        if self.expiration_time is not None:
            check_rfc3339_datetime(self.expiration_time, "expiration-time")
        if self.not_before is not None:
            check_rfc3339_datetime(self.not_before, "not-before")
        if self.request_id is not None:
            check(grammar.REQUEST_ID, self.request_id, "request ID must be RFC 3986 path characters (pchar)")
        if isinstance(self.resources, str):
            raise InvalidMessageError("resources must be a sequence of URIs, not a single string")
        resources = tuple(self.resources)
        for resource in resources:
            check(grammar.URI, resource, "each resource must be an RFC 3986 URI")
        object.__setattr__(self, "resources", resources)

    def to_text(self) -> str:
        """The exact EIP-4361 text a wallet signs (LF line breaks, no trailing line break)."""
        origin = self.domain if self.scheme is None else f"{self.scheme}://{self.domain}"
        lines = [origin + HEADER_SUFFIX, self.address, ""]
        lines += ["", f"URI: {self.uri}"] if self.statement is None else [self.statement, "", f"URI: {self.uri}"]
        lines += [
            f"Version: {self.version}",
            f"Chain ID: {self.chain_id}",
            f"Nonce: {self.nonce}",
            f"Issued At: {format_rfc3339(self.issued_at)}",
        ]
        if self.expiration_time is not None:
            lines.append(f"Expiration Time: {format_rfc3339(self.expiration_time)}")
        if self.not_before is not None:
            lines.append(f"Not Before: {format_rfc3339(self.not_before)}")
        if self.request_id is not None:
            lines.append(f"Request ID: {self.request_id}")
        if self.resources:
            lines.append("Resources:")
            lines += [f"- {resource}" for resource in self.resources]
        return "\n".join(lines)


def _short(line: str) -> str:
    return repr(line if len(line) <= 80 else line[:77] + "...")


class _Lines:
    """A cursor over the message lines that names the line in every error."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        self.index = 0

    def next(self, expected: str) -> str:
        if self.index >= len(self.lines):
            raise InvalidMessageError(f"message ends early: expected {expected} on line {self.index + 1}")
        line = self.lines[self.index]
        self.index += 1
        return line

    def error(self, problem: str) -> InvalidMessageError:
        return InvalidMessageError(f"line {self.index}: {problem}")

    def tagged(self, tag: str) -> str:
        line = self.next(f"'{tag}: ...'")
        if not line.startswith(f"{tag}: "):
            raise self.error(f"expected '{tag}: ...', found {_short(line)}")
        return line[len(tag) + 2 :]


def _chain_id(value: str) -> int:
    if grammar.CHAIN_ID.fullmatch(value) is None or len(value) > 78:  # 78 digits hold any uint256
        raise InvalidMessageError(f"chain ID must be a decimal number, got {value!r}")
    return int(value)


def _optional_fields(cursor: _Lines) -> tuple[dict[str, str], list[str]]:
    """The optional lines after `Issued At`, each at most once and in the spec's order, then the resources."""
    optional: dict[str, str] = {}
    resources: list[str] = []
    position = 0
    while cursor.index < len(cursor.lines):
        line = cursor.next("an optional field")
        tag, _, value = ("Resources", "", "") if line == "Resources:" else line.partition(": ")
        if tag == "Resources" and line != "Resources:":
            raise cursor.error(f"'Resources:' must be alone on its line, found {_short(line)}")
        if tag in _REQUIRED_TAGS or tag in optional:
            raise cursor.error(f"duplicate '{tag}' line")
        if tag not in _OPTIONAL_TAGS:
            raise cursor.error(f"unexpected line {_short(line)}")
        if _OPTIONAL_TAGS.index(tag) < position:
            raise cursor.error(f"'{tag}' is out of order (expected order: {', '.join(_OPTIONAL_TAGS)})")
        position = _OPTIONAL_TAGS.index(tag) + 1
        optional[tag] = value
        if tag == "Resources":
            break
    while cursor.index < len(cursor.lines):  # only reached after 'Resources:': every line left is a resource
        item = cursor.next("a resource")
        if not item.startswith("- "):
            raise cursor.error(f"expected a resource line '- <uri>' after 'Resources:', found {_short(item)}")
        resources.append(item[2:])
    return optional, resources


def parse(text: str) -> SiweMessage:
    """Parse an EIP-4361 message strictly; `InvalidMessageError` names the first problem found."""
    if not isinstance(text, str):
        raise InvalidMessageError(f"a sign-in message must be text, got {type(text).__name__}")
    if len(text) > MAX_MESSAGE_LENGTH:
        raise InvalidMessageError(f"message is longer than {MAX_MESSAGE_LENGTH} characters")
    if "\r" in text:
        raise InvalidMessageError("message must use LF line breaks only (found a carriage return)")
    cursor = _Lines(text)

    header = cursor.next("the header")
    if not header.endswith(HEADER_SUFFIX) or header == HEADER_SUFFIX:
        raise cursor.error(f"expected '<domain>{HEADER_SUFFIX}', found {_short(header)}")
    origin = header[: -len(HEADER_SUFFIX)]
    scheme, separator, domain = origin.rpartition("://")
    address = cursor.next("the address")
    if cursor.next("an empty line") != "":
        raise cursor.error("expected an empty line after the address")
    statement: str | None = cursor.next("the statement or an empty line")
    if statement == "" and cursor.index < len(cursor.lines) and cursor.lines[cursor.index].startswith("URI: "):
        statement = None  # no statement: the address is followed by exactly two empty lines
    elif cursor.next("an empty line") != "":
        raise cursor.error("expected an empty line after the statement (a statement is a single line)")

    uri = cursor.tagged("URI")
    version = cursor.tagged("Version")
    chain_id = _chain_id(cursor.tagged("Chain ID"))
    nonce = cursor.tagged("Nonce")
    issued_at = parse_rfc3339(cursor.tagged("Issued At"), "issued-at")

    optional, resources = _optional_fields(cursor)
    expiration = optional.get("Expiration Time")
    not_before = optional.get("Not Before")
    return SiweMessage(
        scheme=scheme if separator else None,
        domain=domain,
        address=address,
        statement=statement,
        uri=uri,
        version=version,
        chain_id=chain_id,
        nonce=nonce,
        issued_at=issued_at,
        expiration_time=None if expiration is None else parse_rfc3339(expiration, "expiration-time"),
        not_before=None if not_before is None else parse_rfc3339(not_before, "not-before"),
        request_id=optional.get("Request ID"),
        resources=resources,
    )


def _signature_bytes(signature: str) -> bytes:
    body = signature[2:] if isinstance(signature, str) and signature[:2] in ("0x", "0X") else signature
    if not isinstance(body, str) or re.fullmatch(r"[0-9A-Fa-f]{130}", body) is None:
        raise InvalidSignatureError("signature must be 65 bytes as hex (130 hex digits, optional 0x prefix)")
    raw = bytes.fromhex(body)
    if raw[64] not in (0, 1, 27, 28):
        raise InvalidSignatureError(f"signature recovery id v={raw[64]} is invalid (expected 27 or 28)")
    return raw


def verify(
    text: str,
    signature: str,
    *,
    domain: str,
    chain_id: int,
    nonce_is_valid: Callable[[str], bool],
    now: datetime,
    scheme: str = "https",
) -> SiweMessage:
    """Check a signed sign-in message and return it; raise an `AuthError` subclass on any problem.

    Checks, in order: the text parses (`InvalidMessageError`); domain equals `domain`, and the message's
    scheme (https when absent, as the spec assumes) equals `scheme` (`DomainMismatchError`); chain ID equals
    `chain_id` (`ChainMismatchError`); `expiration_time > now` (`ExpiredError`); `not_before <= now` and
    `issued_at <= now + MAX_CLOCK_SKEW` (`NotYetValidError`); the EIP-191 signer recovered from `signature`
    is the message address (`InvalidSignatureError`). Only then is the nonce consumed through
    `nonce_is_valid`, which must return False for unknown or already used nonces (`NonceError`).

    Only ECDSA signatures of externally owned accounts are accepted; EIP-1271 (contract wallet) sign-in
    is left for later.
    """
    now = require_aware(now)
    message = parse(text)
    if message.domain != domain:
        raise DomainMismatchError(f"the message is for domain {message.domain!r}, expected {domain!r}")
    if (message.scheme or "https").lower() != scheme.lower():
        raise DomainMismatchError(f"the message is for scheme {message.scheme!r}, expected {scheme!r}")
    if message.chain_id != chain_id:
        raise ChainMismatchError(f"the message is for chain {message.chain_id}, expected {chain_id}")
    if message.expiration_time is not None and message.expiration_time <= now:
        raise ExpiredError(f"the message expired at {format_rfc3339(message.expiration_time)}: sign in again")
    if message.not_before is not None and message.not_before > now:
        raise NotYetValidError(f"the message is not valid before {format_rfc3339(message.not_before)}")
    if message.issued_at > now + MAX_CLOCK_SKEW:
        raise NotYetValidError(
            f"the message is issued in the future ({format_rfc3339(message.issued_at)}): check the clock"
        )
    raw = _signature_bytes(signature)
    try:
        signer = Account.recover_message(encode_defunct(text=text), signature=raw)
    except (BadSignature, ValidationError, ValueError, TypeError) as exc:
        raise InvalidSignatureError(f"the signature could not be recovered: {exc}") from exc
    if signer != message.address:
        raise InvalidSignatureError(f"the message is for {message.address} but was signed by {signer}")
    if not nonce_is_valid(message.nonce):
        raise NonceError("the nonce is unknown, expired or already used: request a new one and sign again")
    return message


def new_nonce() -> str:
    """A fresh random nonce: NONCE_LENGTH ASCII letters and digits from `secrets`."""
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(NONCE_LENGTH))
