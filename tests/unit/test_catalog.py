"""The data-category/purpose catalog: masks, parsing, validation of broken files, the notice hash."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from Crypto.Hash import keccak as pycryptodome_keccak

from consent_ledger.catalog import Catalog, default_catalog, load_catalog
from consent_ledger.catalog import model as catalog_model
from consent_ledger.errors import ConfigError, InputError

PACKAGED = Path(catalog_model.__file__).with_name("catalog.json")
UINT64_MAX = 2**64 - 1

# Published bits never move. If this test fails you renumbered a bit: revert, or retire the old bit.
PUBLISHED_PURPOSE_BITS = """
    tcf.store_access_device 0   tcf.limited_data_ads 1   tcf.create_ad_profile 2   tcf.use_ad_profile 3
    tcf.create_content_profile 4   tcf.use_content_profile 5   tcf.measure_ad_performance 6
    tcf.measure_content_performance 7   tcf.audience_statistics 8   tcf.develop_improve_services 9
    tcf.limited_data_content 10   marketing.email 16   marketing.sms 17   marketing.postal 18
    sharing.third_party_sale 24
"""
PUBLISHED_CATEGORY_BITS = """
    contact.email 0   contact.phone 1   contact.postal_address 2   identity.name 3   identity.date_of_birth 4
    location.precise 8   location.coarse 9   demographic.age_range 12   demographic.gender 13
    purchase_history 16   browsing_behaviour 17   interests 18   device_ids 19   loyalty 20
    financial.payment_card 32   health 33   biometric 34   genetic 35   demographic.racial_ethnic_origin 36
    beliefs.religious_philosophical 37   sex_life_orientation 38   identity.government_id 39
"""


def published(table: str) -> dict[str, int]:
    words = table.split()
    return dict(zip(words[::2], map(int, words[1::2]), strict=True))


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def raw() -> dict[str, Any]:
    """A fresh, editable copy of the packaged catalog.json."""
    return copy.deepcopy(json.loads(PACKAGED.read_text(encoding="utf-8")))


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_packaged_catalog_loads_and_is_cached(catalog: Catalog) -> None:
    assert catalog.schema == 1
    assert catalog.version
    assert default_catalog() is default_catalog()
    assert default_catalog() == catalog


def test_published_bits_never_move(catalog: Catalog) -> None:
    purposes = {p.name: p.bit for p in catalog.purposes}
    categories = {c.name: c.bit for c in catalog.categories}
    for table, actual in ((PUBLISHED_PURPOSE_BITS, purposes), (PUBLISHED_CATEGORY_BITS, categories)):
        expected = published(table)
        assert {name: actual.get(name) for name in expected} == expected


def test_every_entry_has_a_dpv_term_and_plain_texts(catalog: Catalog) -> None:
    assert all(p.dpv.startswith("https://w3id.org/dpv#") for p in catalog.purposes)
    assert all(c.dpv.startswith("https://w3id.org/dpv/pd#") for c in catalog.categories)
    for entry in (*catalog.purposes, *catalog.categories):
        assert entry.label.strip()
        assert entry.description.strip()
        assert 0 <= entry.bit <= 63


def test_all_eleven_tcf_purposes_present_exactly_once(catalog: Catalog) -> None:
    ids = [p.tcf_purpose_id for p in catalog.purposes if p.tcf_purpose_id is not None]
    assert sorted(ids) == list(range(1, 12))
    for purpose in catalog.purposes:
        if purpose.tcf_purpose_id is not None:
            assert purpose.name.startswith("tcf.")
            assert purpose.bit == purpose.tcf_purpose_id - 1


def test_marketing_and_sale_purposes_present(catalog: Catalog) -> None:
    for name in ("marketing.email", "marketing.sms", "marketing.postal", "sharing.third_party_sale"):
        assert catalog.purpose(name).tcf_purpose_id is None
    assert catalog.purpose("marketing.email").dpv == "https://w3id.org/dpv#DirectMarketing"


def test_cpra_sensitive_categories_flagged(catalog: Catalog) -> None:
    sensitive = {c.name for c in catalog.categories if c.cpra_sensitive}
    assert {"location.precise", "financial.payment_card", "health", "biometric"} <= sensitive
    assert {"genetic", "demographic.racial_ethnic_origin", "identity.government_id"} <= sensitive
    assert not {"contact.email", "identity.name", "location.coarse", "purchase_history"} & sensitive
    assert catalog.sensitive_category_mask == catalog.category_mask(sensitive)


def test_every_name_round_trips_through_its_bit(catalog: Catalog) -> None:
    for purpose in catalog.purposes:
        assert catalog.purpose_mask([purpose.name]) == 1 << purpose.bit
        assert catalog.purpose_names(1 << purpose.bit) == [purpose.name]
    for category in catalog.categories:
        assert catalog.category_mask([category.name]) == 1 << category.bit
        assert catalog.category_names(1 << category.bit) == [category.name]


def test_all_names_round_trip_in_bit_order(catalog: Catalog) -> None:
    names = [c.name for c in sorted(catalog.categories, key=lambda c: c.bit)]
    mask = catalog.category_mask(reversed(names))
    assert catalog.category_names(mask) == names
    assert catalog.check_category_mask(mask) == mask
    purposes = [p.name for p in sorted(catalog.purposes, key=lambda p: p.bit)]
    assert catalog.purpose_names(catalog.purpose_mask(purposes)) == purposes
    assert catalog.category_mask("contact.email") == 1  # one name, not its letters
    assert catalog.category_names(0) == catalog.purpose_names(0) == []  # e.g. a revoked grant


@pytest.mark.parametrize(
    "spec", ["contact.email,contact.phone", " contact.email , contact.phone ,", "0x3", "0X03", "3", "003"]
)
def test_parse_categories_accepts_names_decimal_and_hex(catalog: Catalog, spec: str) -> None:
    assert catalog.parse_categories(spec) == 0b11


def test_parse_purposes(catalog: Catalog) -> None:
    assert catalog.parse_purposes("marketing.email,marketing.sms") == (1 << 16) | (1 << 17)
    assert catalog.parse_purposes(hex(1 << 24)) == 1 << 24


def test_unknown_name_is_named_with_close_matches(catalog: Catalog) -> None:
    with pytest.raises(InputError, match=r"contact\.emial") as caught:
        catalog.category_mask(["contact.email", "contact.emial"])
    assert "contact.email" in str(caught.value)
    with pytest.raises(InputError, match=r"marketing\.emial.*marketing\.email"):
        catalog.parse_purposes("marketing.emial")
    with pytest.raises(InputError, match="unknown category 'nonsense'"):
        catalog.category("nonsense")
    with pytest.raises(InputError, match=r"unknown category 'marketing\.email'"):
        catalog.parse_categories("marketing.email")


def test_no_names_or_zero_mask_refused(catalog: Catalog) -> None:
    with pytest.raises(InputError, match="no categories given"):
        catalog.category_mask([])
    with pytest.raises(InputError, match="no purposes given"):
        catalog.parse_purposes(" , ")
    with pytest.raises(InputError, match="zero"):
        catalog.check_category_mask(0)
    with pytest.raises(InputError, match="zero"):
        catalog.parse_purposes("0x0")


def test_unknown_bit_refused_and_named(catalog: Catalog) -> None:
    unused_category = min(set(range(64)) - {c.bit for c in catalog.categories})
    unused_purpose = max(set(range(64)) - {p.bit for p in catalog.purposes})
    with pytest.raises(InputError, match=rf"bit\(s\) {unused_category}\b"):
        catalog.check_category_mask(1 | 1 << unused_category)
    with pytest.raises(InputError, match=rf"bit\(s\) {unused_purpose}\b"):
        catalog.check_purpose_mask(1 << unused_purpose)
    with pytest.raises(InputError, match=rf"\b{unused_category}\b"):
        catalog.category_names(1 << unused_category)
    with pytest.raises(InputError, match=rf"\b{unused_purpose}\b"):
        catalog.parse_purposes(str(1 << unused_purpose))


@pytest.mark.parametrize("mask", [0, -1, 2**64, UINT64_MAX + 12345, True])
def test_masks_outside_uint64_or_zero_refused(catalog: Catalog, mask: int) -> None:
    with pytest.raises(InputError):
        catalog.check_category_mask(mask)
    with pytest.raises(InputError):
        catalog.check_purpose_mask(mask)


@pytest.mark.parametrize("spec", [str(2**64), hex(2**64), "9" * 5000, "0x" + "f" * 5000])
def test_parse_refuses_masks_beyond_uint64(catalog: Catalog, spec: str) -> None:
    with pytest.raises(InputError, match="uint64"):
        catalog.parse_categories(spec)


def test_notice_hash_is_keccak256_of_the_paragraphs(raw: dict[str, Any], catalog: Catalog) -> None:
    text = "\n\n".join(raw["notice"]["paragraphs"])
    expected = pycryptodome_keccak.new(digest_bits=256, data=text.encode("utf-8")).hexdigest()
    assert catalog.notice.text == text
    assert catalog.notice.hash == "0x" + expected
    assert catalog.notice.hash_bytes == bytes.fromhex(expected)
    assert len(catalog.notice.hash_bytes) == 32


def test_notice_mentions_what_goes_on_chain(catalog: Catalog) -> None:
    text = catalog.notice.text.lower()
    for words in ("no personal data", "expires", "revoke", "one signature", "access log", "hash"):
        assert words in text


def test_to_json_is_serialisable_and_complete(catalog: Catalog) -> None:
    data = json.loads(json.dumps(catalog.to_json()))
    assert data["version"] == catalog.version
    assert data["notice"]["hash"] == catalog.notice.hash
    assert data["notice"]["text"] == catalog.notice.text
    assert data["notice"]["version"] == catalog.notice.version
    assert [p["name"] for p in data["purposes"]] == [p.name for p in catalog.purposes]
    email = next(c for c in data["categories"] if c["name"] == "contact.email")
    assert email["mask"] == hex(1 << email["bit"])
    assert email["cpra_sensitive"] is False
    assert "tcf_purpose_id" in data["purposes"][0]


def test_a_valid_copy_loads(tmp_path: Path, raw: dict[str, Any]) -> None:
    assert load_catalog(write(tmp_path, raw)) == load_catalog()


def test_duplicate_bit_refused(tmp_path: Path, raw: dict[str, Any]) -> None:
    raw["categories"][1]["bit"] = raw["categories"][0]["bit"]
    with pytest.raises(ConfigError, match=r"duplicate bit 0"):
        load_catalog(write(tmp_path, raw))


def test_duplicate_name_refused(tmp_path: Path, raw: dict[str, Any]) -> None:
    raw["purposes"][1]["name"] = raw["purposes"][0]["name"]
    with pytest.raises(ConfigError, match=r"duplicate name 'tcf\.store_access_device'"):
        load_catalog(write(tmp_path, raw))


@pytest.mark.parametrize("bit", [64, -1, 1000])
def test_bit_outside_uint64_refused(tmp_path: Path, raw: dict[str, Any], bit: int) -> None:
    raw["purposes"][-1]["bit"] = bit
    with pytest.raises(ConfigError, match=rf"bit {bit}, outside 0\.\.63"):
        load_catalog(write(tmp_path, raw))


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ("purposes", "label"),
        ("purposes", "tcf_purpose_id"),
        ("categories", "cpra_sensitive"),
        ("categories", "bit"),
        ("categories", "dpv"),
    ],
)
def test_missing_field_refused(tmp_path: Path, raw: dict[str, Any], section: str, field: str) -> None:
    del raw[section][2][field]
    with pytest.raises(ConfigError, match=rf"{section}\[2\]: missing required field\(s\) {field}"):
        load_catalog(write(tmp_path, raw))


@pytest.mark.parametrize("key", ["version", "schema", "purposes", "categories", "notice", "retired_bits"])
def test_missing_top_level_field_refused(tmp_path: Path, raw: dict[str, Any], key: str) -> None:
    del raw[key]
    with pytest.raises(ConfigError, match=key):
        load_catalog(write(tmp_path, raw))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["categories"][0].update(bit="0"), "'bit' must be an integer"),
        (lambda d: d["categories"][0].update(bit=True), "'bit' must be an integer"),
        (lambda d: d["categories"][0].update(cpra_sensitive="yes"), "'cpra_sensitive' must be true or false"),
        (lambda d: d["categories"][0].update(label="  "), "'label' must be a non-empty string"),
        (lambda d: d["categories"][0].update(name="Contact Email"), "dotted lower-case"),
        (lambda d: d["categories"][0].update(colour="red"), "unknown field"),
        (lambda d: d["purposes"][0].update(dpv="https://example.com/x"), "not a W3C DPV IRI"),
        (lambda d: d["purposes"][1].update(tcf_purpose_id=1), "distinct positive integers"),
        (lambda d: d["purposes"][1].update(tcf_purpose_id=0), "distinct positive integers"),
        (lambda d: d["retired_bits"].update(purposes=[0]), "retired bit 0"),
        (lambda d: d["retired_bits"].update(categories=[64]), "retired_bits"),
        (lambda d: d.update(schema=2), "schema 2 is not supported"),
        (lambda d: d.update(categories=[]), "the list is empty"),
        (lambda d: d["notice"].update(paragraphs=[]), "paragraphs"),
        (lambda d: d["notice"].update(paragraphs=["ok", 3]), "paragraphs"),
        (lambda d: d.update(purposes={}), "'purposes' must be a list"),
    ],
)
def test_other_broken_catalogs_refused(tmp_path: Path, raw: dict[str, Any], edit: Any, message: str) -> None:
    edit(raw)
    with pytest.raises(ConfigError, match=message):
        load_catalog(write(tmp_path, raw))


@pytest.mark.parametrize(
    ("content", "message"),
    [('{"schema": 1,', "not valid JSON"), ("[1, 2]", "must be a JSON object"), (None, "cannot read")],
)
def test_unreadable_catalog_files_refused(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "catalog.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_catalog(path)
