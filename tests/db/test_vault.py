"""The customer data vault on real SQLite and PostgreSQL: storage, release by category, erasure, export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from consent_ledger.catalog import default_catalog
from consent_ledger.db.engine import make_session_factory
from consent_ledger.errors import InputError, NotFoundError
from consent_ledger.vault import (
    ErasedError,
    FieldValue,
    MasterKey,
    TamperedError,
    Vault,
    WrongMasterKeyError,
)
from consent_ledger.vault.crypto import decrypt_field, new_data_key, unwrap
from consent_ledger.vault.store import MAX_VALUE_BYTES

ALICE = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55 test vector
BOB = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
CAROL = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"
DAVE = "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"
EMAIL = "alice@example.org"
ALICE_FIELDS = {
    "email": ("contact.email", EMAIL),
    "phone": ("contact.phone", "+33 6 12 34 56 78"),
    "name": ("identity.name", "Alice Ærøskøbing"),
    "city": ("location.coarse", "Lyon"),
    "allergy": ("health", "peanuts"),
}


def count(engine: Engine, sql: str, **params: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql), params).scalar_one())


@pytest.fixture
def selects(engine: Engine) -> Iterator[list[str]]:
    """The SELECT statements the engine runs while the test body runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_put_then_get_round_trip(vault: Vault) -> None:
    vault.put_fields(ALICE, ALICE_FIELDS)
    assert vault.get_fields(ALICE) == {name: FieldValue(*pair) for name, pair in ALICE_FIELDS.items()}
    assert vault.customer_exists(ALICE)
    assert not vault.customer_exists(BOB)
    assert vault.get_fields(BOB) == {}


def test_put_overwrites_and_adds(vault: Vault) -> None:
    vault.put_fields(ALICE, {"email": ("contact.email", EMAIL)})
    vault.put_fields(ALICE, {"email": ("contact.email", "new@example.org"), "city": ("location.coarse", "")})
    assert vault.get_fields(ALICE) == {
        "email": FieldValue("contact.email", "new@example.org"),
        "city": FieldValue("location.coarse", ""),
    }


def test_release_returns_only_allowed_categories(vault: Vault) -> None:
    vault.put_fields(ALICE, ALICE_FIELDS)
    assert vault.release(ALICE, {"contact.email", "location.coarse", "loyalty"}) == {"email": EMAIL, "city": "Lyon"}
    assert vault.release(ALICE, {"health"}) == {"allergy": "peanuts"}
    assert vault.release(ALICE, set()) == {}
    assert vault.release(BOB, {"contact.email"}) == {}


def test_release_many_mixed_customers_in_one_query(vault: Vault, selects: list[str]) -> None:
    vault.put_fields(ALICE, ALICE_FIELDS)
    vault.put_fields(BOB, {"email": ("contact.email", "bob@example.org"), "phone": ("contact.phone", "555")})
    vault.put_fields(CAROL, {"email": ("contact.email", "carol@example.org")})
    vault.erase(CAROL)
    selects.clear()

    released = vault.release_many(
        [ALICE.lower(), BOB.upper().replace("0X", "0x"), CAROL, DAVE],
        {ALICE: {"contact.email", "identity.name"}, BOB.lower(): {"contact.phone"}, CAROL: {"contact.email"}},
    )

    assert released == {
        ALICE: {"email": EMAIL, "name": "Alice Ærøskøbing"},
        BOB: {"phone": "555"},
        CAROL: {},  # erased
        DAVE: {},  # unknown, and nothing allowed
    }
    assert len(selects) == 1, selects


def test_release_many_refuses_conflicting_spellings(vault: Vault) -> None:
    with pytest.raises(InputError, match="twice"):
        vault.release_many([ALICE], {ALICE: {"contact.email"}, ALICE.lower(): {"health"}})
    with pytest.raises(InputError, match="set of category names"):
        vault.release_many([ALICE], {ALICE: "contact.email"})  # type: ignore[dict-item]


def test_unknown_category_is_refused_and_nothing_written(vault: Vault, engine: Engine) -> None:
    fields = {"email": ("contact.email", EMAIL), "mood": ("contact.emial", "happy")}
    with pytest.raises(InputError, match=r"unknown category 'contact.emial'.*contact\.email"):
        vault.put_fields(ALICE, fields)
    assert not vault.customer_exists(ALICE)
    for table in ("customers", "customer_keys", "customer_fields"):
        assert count(engine, f"SELECT COUNT(*) FROM {table}") == 0  # noqa: S608


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "no fields"),
        ({"Email": ("contact.email", EMAIL)}, "invalid field name"),
        ({"e|mail": ("contact.email", EMAIL)}, "invalid field name"),
        ({"email": ("contact.email", 42)}, "must be a string"),
        ({"email": ("contact.email", "x" * (MAX_VALUE_BYTES + 1))}, "limit"),
        ({"email": "contact.email"}, "pair"),
    ],
)
def test_bad_input_is_refused(vault: Vault, fields: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        vault.put_fields(ALICE, fields)
    assert not vault.customer_exists(ALICE)


def test_bad_address_is_refused(vault: Vault) -> None:
    with pytest.raises(InputError, match="invalid customer address"):
        vault.put_fields("0x1234", {"email": ("contact.email", EMAIL)})
    with pytest.raises(InputError, match="invalid customer address"):
        vault.release("alice", {"contact.email"})


def test_erase_crypto_shreds(vault: Vault, engine: Engine, master_key: MasterKey) -> None:
    vault.put_fields(ALICE, ALICE_FIELDS)
    vault.put_fields(BOB, {"email": ("contact.email", "bob@example.org")})
    with engine.connect() as connection:  # what a backup taken before erasure would hold
        nonce, ciphertext = connection.execute(
            text("SELECT nonce, ciphertext FROM customer_fields WHERE customer = :c AND field = 'email'"), {"c": ALICE}
        ).one()
        wrapped = connection.execute(text("SELECT wrapped_key FROM customer_keys WHERE customer = :c"), {"c": ALICE})
        wrapped_before = bytes(wrapped.scalar_one())
    nonce, ciphertext = bytes(nonce), bytes(ciphertext)

    assert vault.erase(ALICE) == len(ALICE_FIELDS)

    assert vault.get_fields(ALICE) == {}
    assert vault.release(ALICE, {"contact.email"}) == {}
    assert vault.is_erased(ALICE)
    assert not vault.customer_exists(ALICE)
    assert count(engine, "SELECT COUNT(*) FROM customer_keys WHERE customer = :c", c=ALICE) == 0
    assert count(engine, "SELECT COUNT(*) FROM customer_fields WHERE customer = :c", c=ALICE) == 0
    assert count(engine, "SELECT COUNT(*) FROM customers WHERE erased_at IS NOT NULL") == 1
    # Bob is untouched.
    assert vault.release(BOB, {"contact.email"}) == {"email": "bob@example.org"}

    # The surviving ciphertext is useless with the master key alone: the data key was only ever stored wrapped,
    # in the deleted row. No remaining wrapped key opens it (Bob's is bound to Bob), nor does a guessed key.
    with engine.connect() as connection:
        remaining = [bytes(k) for k in connection.execute(text("SELECT wrapped_key FROM customer_keys")).scalars()]
    assert wrapped_before not in remaining
    for other in remaining:
        with pytest.raises(TamperedError):
            unwrap(master_key, other, ALICE)
    with pytest.raises(TamperedError):
        decrypt_field(new_data_key(), ALICE, "email", nonce, ciphertext, category="contact.email")
    # ...whereas the deleted bytes were exactly what was needed.
    data_key = unwrap(master_key, wrapped_before, ALICE)
    assert decrypt_field(data_key, ALICE, "email", nonce, ciphertext, category="contact.email") == EMAIL


def test_erased_customer_refuses_new_data(vault: Vault, engine: Engine) -> None:
    vault.put_fields(ALICE, ALICE_FIELDS)
    vault.erase(ALICE)
    with pytest.raises(ErasedError, match="erased"):
        vault.put_fields(ALICE.lower(), {"email": ("contact.email", EMAIL)})
    assert count(engine, "SELECT COUNT(*) FROM customer_fields") == 0
    assert count(engine, "SELECT COUNT(*) FROM customer_keys") == 0
    assert vault.erase(ALICE) == 0  # idempotent
    exported = vault.export(ALICE)
    assert exported["erased_at"] is not None
    assert exported["fields"] == []


def test_erasing_an_unknown_customer_leaves_a_tombstone(vault: Vault) -> None:
    assert vault.erase(DAVE) == 0
    assert vault.is_erased(DAVE)
    with pytest.raises(ErasedError):
        vault.put_fields(DAVE, {"email": ("contact.email", "dave@example.org")})


def test_export_contains_every_field_with_its_category(vault: Vault) -> None:
    vault.put_fields(ALICE, ALICE_FIELDS)
    exported = json.loads(json.dumps(vault.export(ALICE.lower())))
    assert exported["customer"] == ALICE
    assert exported["format"] == "consent-ledger/vault-export/1"
    assert exported["erased_at"] is None
    assert exported["catalog_version"] == default_catalog().version
    by_field = {f["field"]: f for f in exported["fields"]}
    assert {name: (f["category"], f["value"]) for name, f in by_field.items()} == ALICE_FIELDS
    assert by_field["email"]["category_label"]
    for f in exported["fields"]:
        assert f["created_at"].endswith("+00:00")
        assert f["updated_at"] >= f["created_at"]


def test_export_of_an_unknown_customer(vault: Vault) -> None:
    with pytest.raises(NotFoundError):
        vault.export(DAVE)


def test_each_customer_has_its_own_data_key(vault: Vault, engine: Engine, master_key: MasterKey) -> None:
    vault.put_fields(ALICE, {"email": ("contact.email", "same@example.org")})
    vault.put_fields(BOB, {"email": ("contact.email", "same@example.org")})
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT customer, wrapped_key FROM customer_keys")).all()
        ciphertexts = connection.execute(text("SELECT ciphertext FROM customer_fields")).scalars().all()
    assert len(rows) == 2
    keys = {customer: unwrap(master_key, bytes(wrapped), customer) for customer, wrapped in rows}
    assert keys[ALICE] != keys[BOB]
    assert len({bytes(c) for c in ciphertexts}) == 2


def test_the_database_holds_no_plaintext(vault: Vault, engine: Engine) -> None:
    vault.put_fields(ALICE, ALICE_FIELDS)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT nonce, ciphertext FROM customer_fields")).all()
        keys = connection.execute(text("SELECT wrapped_key FROM customer_keys")).scalars().all()
    blobs = [bytes(b) for row in rows for b in row] + [bytes(k) for k in keys]
    assert len(rows) == len(ALICE_FIELDS)
    for _category, value in ALICE_FIELDS.values():
        secret = value.encode("utf-8")
        assert all(secret not in blob for blob in blobs)


def test_addresses_are_case_insensitive_and_stored_checksummed(vault: Vault, engine: Engine) -> None:
    vault.put_fields(ALICE.lower(), {"email": ("contact.email", EMAIL)})
    vault.put_fields("0x" + ALICE[2:].upper(), {"phone": ("contact.phone", "1")})
    assert set(vault.get_fields(ALICE)) == {"email", "phone"}
    assert vault.release(ALICE.lower(), {"contact.email"}) == {"email": EMAIL}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT address FROM customers")).scalars().all() == [ALICE]
        stored = set(connection.execute(text("SELECT customer FROM customer_fields")).scalars())
    assert stored == {ALICE}


def test_relabelling_a_field_in_the_database_is_detected(vault: Vault, engine: Engine) -> None:
    """Moving `health` data into a category a brand may receive must not leak it."""
    vault.put_fields(ALICE, ALICE_FIELDS)
    with engine.begin() as connection:
        connection.execute(text("UPDATE customer_fields SET category = 'contact.email' WHERE field = 'allergy'"))
    with pytest.raises(TamperedError, match="allergy"):
        vault.release(ALICE, {"contact.email"})


def test_a_different_master_key_is_refused(vault: Vault, engine: Engine) -> None:
    vault.put_fields(ALICE, ALICE_FIELDS)
    other = Vault(make_session_factory(engine), MasterKey.generate(), default_catalog())
    with pytest.raises(WrongMasterKeyError, match="master key"):
        other.get_fields(ALICE)
    with pytest.raises(WrongMasterKeyError):
        other.put_fields(ALICE, {"email": ("contact.email", "x@example.org")})
    assert vault.get_fields(ALICE)["email"].value == EMAIL


def test_put_many_stores_a_batch_in_one_transaction(vault: Vault, engine: Engine) -> None:
    vault.put_fields(ALICE, {"email": ("contact.email", "old@example.org")})
    vault.put_many(
        {
            ALICE.lower(): {"email": ("contact.email", EMAIL), "city": ("location.coarse", "Lyon")},
            BOB: {"interests": ("interests", "hiking")},
        }
    )
    assert vault.get_fields(ALICE) == {
        "email": FieldValue("contact.email", EMAIL),
        "city": FieldValue("location.coarse", "Lyon"),
    }
    assert vault.get_fields(BOB) == {"interests": FieldValue("interests", "hiking")}
    assert count(engine, "SELECT count(*) FROM customer_keys") == 2  # Alice kept her key


def test_put_many_is_all_or_nothing(vault: Vault, engine: Engine) -> None:
    vault.erase(CAROL)
    with pytest.raises(ErasedError):
        vault.put_many({BOB: {"email": ("contact.email", EMAIL)}, CAROL: {"email": ("contact.email", EMAIL)}})
    with pytest.raises(InputError):
        vault.put_many({BOB: {"email": ("contact.email", EMAIL)}, DAVE: {"x": ("no.such.category", "1")}})
    with pytest.raises(InputError, match="twice"):
        vault.put_many({DAVE: {"email": ("contact.email", EMAIL)}, DAVE.lower(): {"email": ("contact.email", EMAIL)}})
    assert count(engine, "SELECT count(*) FROM customer_fields") == 0
    assert count(engine, "SELECT count(*) FROM customers WHERE address IN (:b, :d)", b=BOB, d=DAVE) == 0


def test_only_consenting_holders_are_opened(vault: Vault) -> None:
    """The aggregate path reads holders sealed (no plaintext) and opens one holder at a time."""
    vault.put_fields(ALICE, ALICE_FIELDS)
    vault.put_fields(BOB, {"interests": ("interests", "hiking"), "email": ("contact.email", "bob@example.org")})
    vault.put_fields(DAVE, {"email": ("contact.email", "dave@example.org")})
    vault.erase(CAROL)
    holders = {h.customer: h for h in vault.counting.sealed_holders({"interests", "location.coarse"})}
    assert set(holders) == {ALICE, BOB}
    assert all(EMAIL.encode() not in ciphertext for h in holders.values() for *_, ciphertext in h.fields)
    assert vault.counting.open_for_counting(holders[BOB]) == {"interests": ["hiking"]}
    assert vault.counting.open_for_counting(holders[ALICE]) == {"location.coarse": ["Lyon"]}
