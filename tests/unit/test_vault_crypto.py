"""Vault envelope encryption (pure): round trips, associated-data binding, tampering, master key parsing."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from consent_ledger.errors import ConfigError, InputError
from consent_ledger.vault.crypto import (
    KEY_BYTES,
    WRAPPED_KEY_BYTES,
    MasterKey,
    SegmentOpener,
    decrypt_field,
    encrypt_field,
    new_data_key,
    seal_segment,
    unwrap,
    wrap,
)
from consent_ledger.vault.errors import TamperedError, WrongMasterKeyError

ALICE = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
BOB = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
EMAIL = "alice@example.org"


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


@pytest.mark.parametrize("plaintext", [EMAIL, "", "Ærøskøbing 🚲", "x" * 10_000])
def test_field_round_trip(plaintext: str) -> None:
    key = new_data_key()
    nonce, ciphertext = encrypt_field(key, ALICE, "email", plaintext, category="contact.email")
    assert decrypt_field(key, ALICE, "email", nonce, ciphertext, category="contact.email") == plaintext
    assert len(nonce) == 12
    assert len(ciphertext) == len(plaintext.encode()) + 16


def test_same_plaintext_encrypts_differently_each_time() -> None:
    key = new_data_key()
    first = encrypt_field(key, ALICE, "email", EMAIL, category="contact.email")
    second = encrypt_field(key, ALICE, "email", EMAIL, category="contact.email")
    assert first[0] != second[0]
    assert first[1] != second[1]


@pytest.mark.parametrize(
    ("customer", "field", "category"),
    [
        (BOB, "email", "contact.email"),  # moved to another customer
        (ALICE, "phone", "contact.email"),  # swapped into another field
        (ALICE, "email", "contact.phone"),  # relabelled to another category
    ],
)
def test_wrong_associated_data_fails(customer: str, field: str, category: str) -> None:
    key = new_data_key()
    nonce, ciphertext = encrypt_field(key, ALICE, "email", EMAIL, category="contact.email")
    with pytest.raises(TamperedError, match="failed authentication"):
        decrypt_field(key, customer, field, nonce, ciphertext, category=category)


def test_address_case_does_not_change_the_binding() -> None:
    key = new_data_key()
    nonce, ciphertext = encrypt_field(key, ALICE.lower(), "email", EMAIL, category="contact.email")
    assert decrypt_field(key, ALICE, "email", nonce, ciphertext, category="contact.email") == EMAIL


@pytest.mark.parametrize("index", [0, 5, -1])
def test_tampered_ciphertext_fails(index: int) -> None:
    key = new_data_key()
    nonce, ciphertext = encrypt_field(key, ALICE, "email", EMAIL, category="contact.email")
    with pytest.raises(TamperedError):
        decrypt_field(key, ALICE, "email", nonce, flip(ciphertext, index % len(ciphertext)), category="contact.email")


def test_tampered_or_truncated_nonce_and_ciphertext_fail() -> None:
    key = new_data_key()
    nonce, ciphertext = encrypt_field(key, ALICE, "email", EMAIL, category="contact.email")
    for bad_nonce, bad_ciphertext in [(flip(nonce, 0), ciphertext), (nonce[:-1], ciphertext), (nonce, ciphertext[:-1])]:
        with pytest.raises(TamperedError):
            decrypt_field(key, ALICE, "email", bad_nonce, bad_ciphertext, category="contact.email")


def test_wrong_data_key_fails() -> None:
    nonce, ciphertext = encrypt_field(new_data_key(), ALICE, "email", EMAIL, category="contact.email")
    with pytest.raises(TamperedError):
        decrypt_field(new_data_key(), ALICE, "email", nonce, ciphertext, category="contact.email")


def test_separator_in_names_is_refused() -> None:
    with pytest.raises(InputError, match=r"'\|'"):
        encrypt_field(new_data_key(), ALICE, "e|mail", EMAIL, category="contact.email")


def test_wrap_unwrap_round_trip() -> None:
    master, data_key = MasterKey.generate(), new_data_key()
    wrapped = wrap(master, data_key, ALICE)
    assert len(wrapped) == WRAPPED_KEY_BYTES
    assert data_key not in wrapped
    assert unwrap(master, wrapped, ALICE.lower()) == data_key


def test_wrapped_key_is_bound_to_its_customer() -> None:
    master = MasterKey.generate()
    wrapped = wrap(master, new_data_key(), ALICE)
    with pytest.raises(TamperedError, match=BOB):
        unwrap(master, wrapped, BOB)


def test_wrapped_key_needs_the_same_master_key_and_intact_bytes() -> None:
    master = MasterKey.generate()
    wrapped = wrap(master, new_data_key(), ALICE)
    with pytest.raises(TamperedError):
        unwrap(MasterKey.generate(), wrapped, ALICE)
    for bad in (flip(wrapped, 0), flip(wrapped, 30), wrapped[:-1], wrapped + b"\x00"):
        with pytest.raises(TamperedError):
            unwrap(master, bad, ALICE)


def test_wrap_refuses_a_data_key_of_the_wrong_size() -> None:
    with pytest.raises(InputError, match="32 bytes"):
        wrap(MasterKey.generate(), os.urandom(16), ALICE)


def test_master_key_from_hex_and_base64() -> None:
    raw = os.urandom(KEY_BYTES)
    keys = [
        MasterKey.from_string(raw.hex()),
        MasterKey.from_string("0x" + raw.hex().upper()),
        MasterKey.from_string(base64.b64encode(raw).decode()),
        MasterKey.from_string(base64.urlsafe_b64encode(raw).decode().rstrip("=") + "\n"),
        MasterKey(raw),
    ]
    assert len({key.key_id for key in keys}) == 1
    data_key = new_data_key()
    wrapped = wrap(keys[0], data_key, ALICE)
    assert all(unwrap(key, wrapped, ALICE) == data_key for key in keys)


@pytest.mark.parametrize(
    "text",
    [
        os.urandom(31).hex(),
        base64.b64encode(os.urandom(16)).decode(),
        base64.b64encode(b"").decode(),
    ],
)
def test_short_master_key_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="too short"):
        MasterKey.from_string(text)


def test_long_or_malformed_master_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="too long"):
        MasterKey(os.urandom(64))
    with pytest.raises(ConfigError, match="64 hex digits or base64"):
        MasterKey.from_string("not a key!")


def test_master_key_never_shows_its_bytes() -> None:
    raw = os.urandom(KEY_BYTES)
    key = MasterKey(raw)
    for shown in (repr(key), str(key)):
        assert raw.hex() not in shown
        assert base64.b64encode(raw).decode() not in shown
        assert key.key_id in shown
    assert MasterKey.generate().key_id != key.key_id


def test_counting_segments_round_trip_bound_to_customer_category_and_master_key() -> None:
    master = MasterKey.generate()
    sealed = seal_segment(master, ALICE, "interests", b'["hiking"]')
    assert b"hiking" not in sealed
    assert seal_segment(master, ALICE, "interests", b'["hiking"]') != sealed  # a fresh nonce each time
    opener = SegmentOpener(master, ["interests", "demographic.age_range"])
    mine = master.key_id
    assert opener.count([(ALICE, mine, sealed, None), (ALICE, mine, sealed, None)]) == [{b'["hiking"]': 2}, {}]
    with pytest.raises(TamperedError, match=BOB):
        opener.count([(BOB, mine, sealed, None)])  # moved to another customer
    with pytest.raises(TamperedError, match="age_range"):
        opener.count([(ALICE, mine, None, sealed)])  # relabelled to another category
    other = MasterKey.generate()
    with pytest.raises(TamperedError):  # sealed under another key, though the row claims this one
        SegmentOpener(other, ["interests"]).count([(ALICE, other.key_id, sealed)])
    with pytest.raises(WrongMasterKeyError):
        SegmentOpener(other, ["interests"]).count([(ALICE, mine, sealed)])
    for bad in (flip(sealed, 0), flip(sealed, len(sealed) - 1), sealed[:27], b""):
        with pytest.raises(TamperedError):
            opener.count([(ALICE, mine, bad, None)])


def test_the_counting_key_is_not_the_master_key() -> None:
    raw = os.urandom(KEY_BYTES)
    sealed = seal_segment(MasterKey(raw), ALICE, "interests", b"[]")
    with pytest.raises(InvalidTag):  # the master key itself does not open it: a key of its own, derived
        AESGCM(raw).decrypt(sealed[:12], sealed[12:], f"consent-ledger/count/v1|{ALICE}|interests".encode())
