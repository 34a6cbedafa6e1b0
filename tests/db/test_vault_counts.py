"""The vault's counting records (vault/counting.py) on real SQLite and PostgreSQL: what an aggregate reads
instead of the field rows must be the customer's fields as they are, after every put, update, move and
erasure, rebuilt for data stored before it existed, and opened only for the asked categories."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import Engine, text

from consent_ledger.catalog import default_catalog
from consent_ledger.db.engine import make_session_factory
from consent_ledger.errors import InputError
from consent_ledger.vault import MasterKey, TamperedError, Vault, WrongMasterKeyError
from consent_ledger.vault.counting import COUNTED_CATEGORIES, COUNTS_VERSION

ALICE = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
BOB = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
COUNTED = list(COUNTED_CATEGORIES)


def counted(vault: Vault, categories: Sequence[str] = COUNTED) -> dict[str, dict[str, list[str]]]:
    """{customer: {category: values}} as the aggregate path reads and opens them."""
    found: dict[str, dict[str, list[str]]] = {}
    for chunk in vault.counting.sealed_counts(categories, chunk=1):
        (row,) = chunk
        tallies = vault.counting.count_values([row], categories)
        found[row[0]] = {c: list(v) for c, tally in zip(categories, tallies, strict=True) for v in tally}
    return found


def from_fields(vault: Vault, customer: str) -> dict[str, list[str]]:
    """The same, worked out from the customer's decrypted fields (in field-name order)."""
    values: dict[str, list[str]] = {}
    for _, field in sorted(vault.get_fields(customer).items()):
        if field.category in COUNTED_CATEGORIES:
            values.setdefault(field.category, []).append(field.value)
    return values


def segment(engine: Engine, customer: str, column: str) -> bytes | None:
    with engine.connect() as connection:
        sql = text(f"SELECT {column} FROM customer_keys WHERE customer = :c")  # noqa: S608 -- a known column
        value = connection.execute(sql, {"c": customer}).scalar_one_or_none()
    return None if value is None else bytes(value)


def set_segment(engine: Engine, customer: str, column: str, value: Any) -> None:
    with engine.begin() as connection:
        sql = text(f"UPDATE customer_keys SET {column} = :v WHERE customer = :c")  # noqa: S608 -- a known column
        connection.execute(sql, {"v": value, "c": customer})


def test_the_record_follows_every_put_update_move_and_erasure(vault: Vault, engine: Engine) -> None:
    vault.put_fields(ALICE, {"email": ("contact.email", "alice@example.org"), "city": ("location.coarse", "Lyon")})
    vault.put_fields(BOB, {"email": ("contact.email", "bob@example.org")})  # nothing counted: no record
    assert counted(vault) == {ALICE: {"location.coarse": ["Lyon"]}} == {ALICE: from_fields(vault, ALICE)}

    vault.put_many({ALICE: {"interests": ("interests", "hiking"), "hobbies": ("interests", "climbing")}})
    assert counted(vault)[ALICE] == from_fields(vault, ALICE)
    assert counted(vault)[ALICE]["interests"] == ["climbing", "hiking"]  # field-name order: hobbies, interests

    vault.put_fields(ALICE, {"interests": ("interests", "cooking")})  # an update keeps the stored 'hobbies'
    assert counted(vault)[ALICE] == from_fields(vault, ALICE)
    assert counted(vault)[ALICE]["interests"] == ["climbing", "cooking"]

    vault.put_fields(ALICE, {"city": ("location.precise", "45.76, 4.83")})  # moved out of a counted category
    assert counted(vault)[ALICE] == from_fields(vault, ALICE) == {"interests": ["climbing", "cooking"]}
    assert ALICE not in counted(vault, ["location.coarse"])
    assert segment(engine, ALICE, "location_coarse") is None

    vault.put_fields(BOB, {"age": ("demographic.age_range", "25-34")})
    assert counted(vault)[BOB] == from_fields(vault, BOB) == {"demographic.age_range": ["25-34"]}

    sealed = segment(engine, ALICE, "interests")
    assert sealed is not None
    assert b"climbing" not in sealed  # sealed, never in clear
    vault.erase(ALICE)
    assert set(counted(vault)) == {BOB}
    with engine.connect() as connection:  # the record went with the key row: its bytes are nowhere
        rows = connection.execute(text("SELECT interests FROM customer_keys WHERE interests IS NOT NULL")).scalars()
        assert sealed not in [bytes(row) for row in rows]
    assert segment(engine, ALICE, "interests") is None


def test_only_the_asked_categories_are_opened(vault: Vault, engine: Engine) -> None:
    vault.put_fields(ALICE, {"age": ("demographic.age_range", "35-44"), "interests": ("interests", "music")})
    set_segment(engine, ALICE, "interests", b"\x00" * 40)  # a segment nobody asks about is never decrypted
    assert counted(vault, ["demographic.age_range"]) == {ALICE: {"demographic.age_range": ["35-44"]}}
    with pytest.raises(TamperedError, match="interests"):
        counted(vault, ["demographic.age_range", "interests"])


def test_a_segment_cannot_be_moved_to_another_customer_or_category(vault: Vault, engine: Engine) -> None:
    vault.put_fields(ALICE, {"interests": ("interests", "music"), "gender": ("demographic.gender", "f")})
    vault.put_fields(BOB, {"interests": ("interests", "travel")})
    alice_interests = segment(engine, ALICE, "interests")
    set_segment(engine, BOB, "interests", alice_interests)
    with pytest.raises(TamperedError, match="interests"):
        counted(vault, ["interests"])
    vault.put_fields(BOB, {"interests": ("interests", "travel")})  # rewritten: Bob's own again
    set_segment(engine, ALICE, "gender", alice_interests)
    with pytest.raises(TamperedError, match=r"demographic\.gender"):
        counted(vault, ["demographic.gender"])


def test_records_are_rebuilt_for_data_stored_before_them(vault: Vault, engine: Engine) -> None:
    vault.put_fields(ALICE, {"age": ("demographic.age_range", "18-24"), "email": ("contact.email", "a@example.org")})
    vault.put_fields(BOB, {"interests": ("interests", "reading")})
    vault.erase(BOB)
    with engine.begin() as connection:  # as migration 0017 leaves the rows of earlier data
        cleared = ", ".join(f"{column} = NULL" for column in COUNTED_CATEGORIES.values())
        connection.execute(text(f"UPDATE customer_keys SET counts_version = NULL, {cleared}"))  # noqa: S608
    assert counted(vault) == {}
    assert vault.counting.rebuild_counts() == 1
    assert counted(vault) == {ALICE: from_fields(vault, ALICE)} == {ALICE: {"demographic.age_range": ["18-24"]}}
    assert vault.counting.rebuild_counts() == 0  # nothing left to build: what every later start-up finds

    with engine.begin() as connection:  # a record of another layout version is never read, and is rebuilt
        connection.execute(text("UPDATE customer_keys SET counts_version = :v"), {"v": COUNTS_VERSION + 1})
    assert counted(vault) == {}
    assert vault.counting.rebuild_counts() == 1
    assert counted(vault) == {ALICE: {"demographic.age_range": ["18-24"]}}


def test_only_counted_categories_are_read_and_only_under_this_master_key(vault: Vault, engine: Engine) -> None:
    vault.put_fields(ALICE, {"age": ("demographic.age_range", "18-24"), "email": ("contact.email", "a@example.org")})
    assert not vault.counting.counts_cover(["demographic.age_range", "contact.email"])
    with pytest.raises(InputError, match="counted"):
        next(vault.counting.sealed_counts(["contact.email"]))
    other = Vault(make_session_factory(engine), MasterKey.generate(), default_catalog())
    rows = [row for chunk in other.counting.sealed_counts(["demographic.age_range"]) for row in chunk]
    with pytest.raises(WrongMasterKeyError, match="master key"):
        other.counting.count_values(rows, ["demographic.age_range"])
