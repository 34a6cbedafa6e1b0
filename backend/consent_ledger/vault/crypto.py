"""Envelope encryption for the vault (pure functions, no I/O): AES-256-GCM everywhere.

A 32-byte master key (from configuration) wraps one random 32-byte data key per customer; the data key encrypts
that customer's field values. The counting records (vault/counting.py) are sealed under one counting key derived
from the master key (HKDF-SHA256): they live only in the customer's key row, next to the wrapped key, so any copy
of one is a copy of the other and a per-customer key would protect nothing more, while one key for all of them
lets an aggregate open 100,000 customers without unwrapping 100,000 keys. Associated data binds every ciphertext
to where it belongs:
  wrapped data key -> the customer address (a wrapped key cannot be moved to another customer);
  field value      -> customer | field | category (a value cannot be swapped between customers or fields, nor
                      relabelled to a category a brand is allowed to receive);
  counting segment -> customer | category (a segment cannot be moved to another customer or category).
Any mismatch or alteration raises `TamperedError`. Nonces are 96 random bits per encryption.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from consent_ledger.addresses import checksum_address
from consent_ledger.errors import ConfigError, InputError
from consent_ledger.vault.errors import TamperedError, WrongMasterKeyError

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_VERSION = 1  # the scheme above; stored with each wrapped key so a later scheme can coexist
WRAPPED_KEY_BYTES = NONCE_BYTES + KEY_BYTES + TAG_BYTES
_KEY_AAD = b"consent-ledger/data-key/v1|"
_FIELD_AAD = b"consent-ledger/field/v1|"
_COUNT_AAD = b"consent-ledger/count/v1|"
_COUNT_KEY_INFO = b"consent-ledger/count-key/v1"
_HEX_KEY = re.compile(r"(0x)?((?:[0-9a-fA-F]{2})+)")  # any even number of hex digits: hex, whatever its length


class MasterKey:
    """The key-encryption key: exactly 32 bytes. Its bytes never appear in `repr` or `str`."""

    __slots__ = ("_aead", "_count_aead", "_id", "_key")

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes):
            raise ConfigError("the vault master key must be bytes")
        if len(raw) < KEY_BYTES:
            raise ConfigError(f"the vault master key is too short: {len(raw)} bytes, it must be {KEY_BYTES}")
        if len(raw) > KEY_BYTES:
            raise ConfigError(f"the vault master key is too long: {len(raw)} bytes, it must be {KEY_BYTES}")
        self._key = raw
        self._aead: AESGCM | None = None
        self._count_aead: AESGCM | None = None
        self._id = hashlib.sha256(b"consent-ledger/master-key-id/v1|" + raw).hexdigest()[:16]

    @classmethod
    def from_string(cls, text: str) -> MasterKey:
        """From 64 hex digits (optionally 0x-prefixed) or base64 (standard or URL-safe) of 32 random bytes."""
        value = text.strip()
        if hex_key := _HEX_KEY.fullmatch(value):
            return cls(bytes.fromhex(hex_key.group(2)))
        try:
            raw = base64.b64decode(value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4), validate=True)
        except (binascii.Error, ValueError) as error:
            raise ConfigError(
                "the vault master key must be 64 hex digits or base64 of 32 bytes "
                '(make one with: python -c "import os,base64; print(base64.b64encode(os.urandom(32)).decode())")'
            ) from error
        return cls(raw)

    @classmethod
    def generate(cls) -> MasterKey:
        """A fresh random master key (tests and first-time setup)."""
        return cls(os.urandom(KEY_BYTES))

    @property
    def key_id(self) -> str:
        """A 16-hex-digit fingerprint naming this key (stored next to wrapped keys; reveals nothing of the key)."""
        return self._id

    def aead(self) -> AESGCM:
        """The AES-GCM context of this key, built once (building one costs more than a small decryption)."""
        if self._aead is None:
            self._aead = AESGCM(self._key)
        return self._aead

    def count_aead(self) -> AESGCM:
        """The AES-GCM context of the counting key (HKDF-SHA256 of this key, its own `info`), built once."""
        if self._count_aead is None:
            derive = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_COUNT_KEY_INFO)
            self._count_aead = AESGCM(derive.derive(self._key))
        return self._count_aead

    def __repr__(self) -> str:
        return f"MasterKey(id={self.key_id})"


def new_data_key() -> bytes:
    """A fresh random 32-byte data key for one customer."""
    return os.urandom(KEY_BYTES)


class DataKey:
    """One customer's data key with its AES-GCM context built once, for the many fields of that customer.

    `customer` must be the checksummed address the fields were written under (the vault's stored form): it
    goes into the associated data as it is, so any other spelling fails authentication, never decrypts.
    """

    __slots__ = ("_aead", "customer")

    def __init__(self, raw: bytes, customer: str) -> None:
        self._aead = _aead(raw)
        self.customer = customer

    def encrypt(self, field: str, plaintext: str, *, category: str) -> tuple[bytes, bytes]:
        """(nonce, ciphertext+tag) of the UTF-8 `plaintext`, bound to this customer, `field` and `category`."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce, self._aead.encrypt(nonce, plaintext.encode("utf-8"), _aad_of(self.customer, field, category))

    def decrypt(self, field: str, nonce: bytes, ciphertext: bytes, *, category: str) -> str:
        """The plaintext of a field; `TamperedError` if anything (bytes, customer, field, category, key) differs."""
        if len(nonce) != NONCE_BYTES:
            raise TamperedError(_tampered(self.customer, field))
        try:
            return self._aead.decrypt(nonce, ciphertext, _aad_of(self.customer, field, category)).decode("utf-8")
        except (InvalidTag, UnicodeDecodeError) as error:
            raise TamperedError(_tampered(self.customer, field)) from error


def seal_segment(master: MasterKey, customer: str, category: str, plaintext: bytes) -> bytes:
    """nonce | ciphertext+tag of one counting-record segment under the counting key, bound to `customer`
    (checksummed, as stored) and `category`; opened by `SegmentOpener`."""
    if "|" in category:
        raise InputError("category names cannot contain '|'")
    nonce = os.urandom(NONCE_BYTES)
    return nonce + master.count_aead().encrypt(nonce, plaintext, _COUNT_AAD + f"{customer}|{category}".encode())


class SegmentOpener:
    """Opens counting segments (`seal_segment`) in `categories` for one aggregate and counts their
    plaintexts: one decryption per segment under the counting key, nothing else per customer (the
    aggregate's hot loop, hence one method for the whole batch)."""

    __slots__ = ("_decrypt", "_key_id", "_suffixes")

    def __init__(self, master: MasterKey, categories: Sequence[str]) -> None:
        if any("|" in category for category in categories):
            raise InputError("category names cannot contain '|'")
        self._decrypt = master.count_aead().decrypt
        self._key_id = master.key_id
        self._suffixes = [f"|{category}".encode() for category in categories]

    def count(self, rows: Iterable[tuple[str, str, *tuple[bytes | None, ...]]]) -> list[Counter[bytes]]:
        """Per category, how many of `rows` (customer as stored, the id of the master key that sealed the
        row, then one segment per category, None: absent) hold each plaintext. `WrongMasterKeyError` for a
        row of another master key, `TamperedError` if a segment was altered, moved to another customer or
        category, or sealed under another key."""
        decrypt, key_id = self._decrypt, self._key_id
        tallies: list[Counter[bytes]] = [Counter() for _ in self._suffixes]
        columns = list(zip(tallies, self._suffixes, strict=True))
        for customer, master_id, *segments in rows:
            if master_id != key_id:
                raise WrongMasterKeyError(
                    f"the counting record of {customer} was sealed under master key {master_id}, "
                    f"but the configured master key is {key_id}"
                )
            aad = _COUNT_AAD + customer.encode("ascii")
            for (tally, suffix), segment in zip(columns, segments, strict=True):
                if segment is None:
                    continue
                if len(segment) < NONCE_BYTES + TAG_BYTES:
                    raise TamperedError(_bad_segment(customer, suffix))
                try:
                    tally[decrypt(segment[:NONCE_BYTES], segment[NONCE_BYTES:], aad + suffix)] += 1
                except InvalidTag as error:
                    raise TamperedError(_bad_segment(customer, suffix)) from error
        return tallies


def open_key(master: MasterKey, wrapped: bytes, address: str) -> DataKey:
    """The data key inside `wrapped`, ready for that customer's fields, for `address` exactly as the vault
    stores it (checksummed, so no checksum is computed here: another spelling fails authentication).
    `TamperedError` if it was altered, wrapped for another customer or under another master key."""
    if len(wrapped) != WRAPPED_KEY_BYTES:
        raise TamperedError(f"the wrapped data key of {address} has {len(wrapped)} bytes, not {WRAPPED_KEY_BYTES}")
    try:
        raw = master.aead().decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _KEY_AAD + address.encode("ascii"))
    except (InvalidTag, UnicodeEncodeError) as error:
        raise TamperedError(
            f"the wrapped data key of {address} failed authentication (altered, moved, or another master key)"
        ) from error
    return DataKey(raw, address)


def wrap(master: MasterKey, data_key: bytes, customer: str) -> bytes:
    """`data_key` encrypted under `master`, bound to `customer`: nonce (12) | ciphertext+tag (48)."""
    if len(data_key) != KEY_BYTES:
        raise InputError(f"a data key must be {KEY_BYTES} bytes, got {len(data_key)}")
    nonce = os.urandom(NONCE_BYTES)
    return nonce + master.aead().encrypt(nonce, data_key, _key_aad(customer))


def unwrap(master: MasterKey, wrapped: bytes, customer: str) -> bytes:
    """The data key inside `wrapped`; `TamperedError` if it was altered, wrapped for another customer or key."""
    if len(wrapped) != WRAPPED_KEY_BYTES:
        raise TamperedError(f"the wrapped data key of {customer} has {len(wrapped)} bytes, not {WRAPPED_KEY_BYTES}")
    try:
        return master.aead().decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _key_aad(customer))
    except InvalidTag as error:
        raise TamperedError(
            f"the wrapped data key of {customer} failed authentication (altered, moved, or another master key)"
        ) from error


def encrypt_field(data_key: bytes, customer: str, field: str, plaintext: str, *, category: str) -> tuple[bytes, bytes]:
    """(nonce, ciphertext+tag) of the UTF-8 `plaintext`, bound to customer, field and category."""
    return DataKey(data_key, checksum_address(customer)).encrypt(field, plaintext, category=category)


def decrypt_field(data_key: bytes, customer: str, field: str, nonce: bytes, ciphertext: bytes, *, category: str) -> str:
    """The plaintext of a field; `TamperedError` if anything (bytes, customer, field, category, key) differs."""
    return DataKey(data_key, checksum_address(customer)).decrypt(field, nonce, ciphertext, category=category)


def _bad_segment(customer: str, suffix: bytes) -> str:
    return (
        f"the {suffix[1:].decode()!r} counting segment of {customer} failed authentication "
        "(altered, moved, relabelled, or wrong key)"
    )


def _tampered(customer: str, field: str) -> str:
    return f"field {field!r} of {customer} failed authentication (altered, moved, relabelled, or wrong key)"


def _aead(data_key: bytes) -> AESGCM:
    if len(data_key) != KEY_BYTES:
        raise InputError(f"a data key must be {KEY_BYTES} bytes, got {len(data_key)}")
    return AESGCM(data_key)


def _key_aad(customer: str) -> bytes:
    return _KEY_AAD + checksum_address(customer).encode("ascii")


def _aad_of(address: str, field: str, category: str) -> bytes:
    """customer | field | category, for an address already in checksummed form."""
    if "|" in field or "|" in category:
        raise InputError("field and category names cannot contain '|'")
    return _FIELD_AAD + f"{address}|{field}|{category}".encode()
