"""The stewardship figures, pure (stewardship/figures.py): what counts as given, narrowed and revoked, which
leaves are counted (only those an on-chain anchor covers), when the log verifies, and the CSV of the same."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest

from consent_ledger.addresses import checksum
from consent_ledger.audit.leaf import InsightLeaf, Leaf, PropagationLeaf, fields_digest
from consent_ledger.audit.merkle import leaf_hash, root
from consent_ledger.catalog import default_catalog
from consent_ledger.chain.events import Anchored, Granted, LogPosition, Revoked
from consent_ledger.domain import PurposeTerms
from consent_ledger.stewardship.figures import ChainFacts, compute, differences, naming_of
from consent_ledger.stewardship.tables import to_csv

CATALOG = default_catalog()
NAMING = naming_of(CATALOG)
BRAND = "0x" + "b1" * 20
OTHER = "0x" + "c2" * 20
CUSTODIAN = "0x" + "a0" * 20
ALICE, BOB, CAROL = ("0x" + c * 40 for c in "123")
DAY = 86_400
T0 = 1_790_000_000  # 2026-09-21T13:33:20Z
EMAIL = CATALOG.purpose("marketing.email").bit
SMS = CATALOG.purpose("marketing.sms").bit
MAIL = CATALOG.category("contact.email").mask
INTERESTS = CATALOG.category("interests").mask
PHONE = CATALOG.category("contact.phone").mask
NOTICE = CATALOG.notice.hash


def at(block: int, index: int = 0) -> LogPosition:
    return LogPosition(block, f"0x{block:064x}", f"0x{block * 100 + index:064x}", index)


def granted(block: int, customer: str, terms: tuple[PurposeTerms, ...], expires: int, notice: str = NOTICE) -> Granted:
    return Granted(at(block), checksum(customer), checksum(BRAND), terms, expires, notice, block, block)


def revoked(block: int, customer: str) -> Revoked:
    return Revoked(at(block, 1), checksum(customer), checksum(BRAND), block)


def release(brand: str, categories: int, purpose_bit: int, when: int) -> bytes:
    return Leaf(
        str(uuid.uuid4()), ALICE, brand, categories, 1 << purpose_bit, 5, "0x" + "ee" * 32, when, fields_digest(["e"])
    ).encode()


def question(brand: str, when: int, epsilon_micro: int) -> bytes:
    return InsightLeaf(
        str(uuid.uuid4()), brand, INTERESTS, 1 << EMAIL, 5, "0x" + "ee" * 32, when, epsilon_micro
    ).encode()


def anchored(block: int, leaves: list[bytes], size: int) -> Anchored:
    digest = "0x" + root([leaf_hash(d) for d in leaves[:size]]).hex()
    return Anchored(at(block, 2), CUSTODIAN, digest, size)


def facts(events: list[Any], anchors: list[Anchored], as_of: int = 10) -> ChainFacts:
    blocks = {e.at.block_number for e in events} | {a.at.block_number for a in anchors} | {as_of}
    return ChainFacts(
        31337, "0x" + "dd" * 20, CUSTODIAN, BRAND, as_of, events, anchors, {b: T0 + b * DAY for b in blocks}
    )


BOTH = (PurposeTerms(EMAIL, MAIL | INTERESTS), PurposeTerms(SMS, PHONE))
EMAIL_ONLY = (PurposeTerms(EMAIL, MAIL),)
FAR = T0 + 400 * DAY


def test_given_narrowed_revoked_and_active() -> None:
    events = [
        granted(1, ALICE, BOTH, FAR),
        granted(2, ALICE, EMAIL_ONLY, FAR),  # drops pairs of a grant in force: narrowed
        granted(3, ALICE, BOTH, FAR),  # keeps every pair: a widening counts as given
        granted(3, BOB, EMAIL_ONLY, T0 + 4 * DAY),  # expires before block 5
        granted(5, BOB, (PurposeTerms(EMAIL, INTERESTS),), FAR),  # the old one expired: given
        granted(4, CAROL, BOTH, FAR),
        revoked(6, CAROL),
    ]
    events.sort(key=lambda e: (e.at.block_number, e.at.log_index))
    figures = compute(facts(events, []), [], NAMING)
    assert figures["grants"] == {"given": 5, "narrowed": 1, "revoked": 1, "active": 2}
    assert figures["notices"] == [{"hash": NOTICE, "version": CATALOG.notice.version, "grants": 6, "active": 2}]
    by_day = {row["day"]: row for row in figures["daily"]}
    assert len(figures["daily"]) == 10  # each day from the first event's (block 1) to the as-of block's (10)
    assert by_day["2026-09-23"]["narrowed"] == 1  # block 2 = T0 + 2 days
    assert by_day["2026-09-27"]["revoked"] == 1
    assert sum(row["given"] for row in figures["daily"]) == 5


def test_releases_and_questions_count_only_anchored_leaves_of_the_brand() -> None:
    leaves = [
        release(BRAND, MAIL | INTERESTS, EMAIL, T0 + DAY),
        release(BRAND, PHONE, SMS, T0 + 2 * DAY),
        release(OTHER, MAIL, EMAIL, T0 + 2 * DAY),  # another brand's
        question(BRAND, T0 + 2 * DAY, 500_000),
        question(OTHER, T0 + 2 * DAY, 250_000),
        release(BRAND, MAIL, EMAIL, T0 + 3 * DAY),  # not anchored yet: not counted
    ]
    figures = compute(facts([], [anchored(3, leaves, 2), anchored(7, leaves, 5)]), leaves, NAMING)
    assert figures["releases"] == {
        "total": 2,
        "by_purpose": [{"name": "marketing.email", "releases": 1}, {"name": "marketing.sms", "releases": 1}],
        "by_category": [
            {"name": "contact.email", "releases": 1},
            {"name": "contact.phone", "releases": 1},
            {"name": "interests", "releases": 1},
        ],
    }
    assert figures["insights"] == {"queries": 1, "epsilon_spent": 0.5}
    assert figures["log"]["verifies"] is True
    assert figures["log"]["anchored_leaves"] == 5
    assert figures["log"]["last_anchor"]["size"] == 5
    assert figures["log"]["anchors"] == 2


def test_a_tampered_leaf_breaks_every_anchor_that_covers_it() -> None:
    leaves = [release(BRAND, MAIL, EMAIL, T0 + DAY) for _ in range(4)]
    anchors = [anchored(2, leaves, 1), anchored(3, leaves, 4)]
    tampered = [*leaves[:2], release(BRAND, PHONE, SMS, T0 + DAY), leaves[3]]
    good = compute(facts([], anchors), leaves, NAMING)
    bad = compute(facts([], anchors), tampered, NAMING)
    assert good["log"]["verifies"]
    assert not bad["log"]["verifies"]
    assert len(bad["log"]["problems"]) == 1
    assert "at size 4" in bad["log"]["problems"][0]
    assert any(line.startswith("log.verifies: page True, recomputed False") for line in differences(good, bad))


def test_a_log_shorter_than_its_anchors_or_unreadable_does_not_verify() -> None:
    leaves = [release(BRAND, MAIL, EMAIL, T0 + DAY) for _ in range(3)]
    short = compute(facts([], [anchored(2, leaves, 3)]), leaves[:2], NAMING)
    assert not short["log"]["verifies"]
    assert "covers 3 leaves but the log holds 2" in short["log"]["problems"][0]
    unknown = [*leaves[:2], b"\x09" + b"\x00" * 40]
    figures = compute(facts([], [anchored(2, unknown, 3)]), unknown, NAMING)
    assert not figures["log"]["verifies"]
    assert "leaf 2 does not decode" in figures["log"]["problems"][0]


def step(customer: str, occurred: int, at_: int, ack: str | None = None, kind: str = "consent.revoked") -> bytes:
    return PropagationLeaf(
        str(uuid.uuid4()),
        "delivered" if ack is None else "acknowledged",
        kind,
        b"\x07" * 32,
        checksum(customer),
        checksum(BRAND),
        occurred,
        at_,
        ack,
    ).encode()


def test_propagation_matches_each_revocation_to_its_steps() -> None:
    events = [granted(1, c, BOTH, FAR) for c in (ALICE, BOB, CAROL)]
    events += [revoked(2, ALICE), revoked(3, BOB), revoked(4, CAROL)]
    alice, bob = T0 + 2 * DAY, T0 + 3 * DAY  # their revocations' block times
    leaves = [
        step(ALICE, alice, alice + 5),
        step(ALICE, alice, alice + 60, "received"),
        step(ALICE, alice, alice + 600, "stopped_processing"),  # a later acknowledgement: the first counts
        step(BOB, bob, bob + 9),
        step(BOB, bob, bob + 3_600, "stopped_processing"),
        step(CAROL, T0 + 4 * DAY, T0 + 4 * DAY + 9),  # delivered, never acknowledged
        step(CAROL, T0 + 9 * DAY, T0 + 9 * DAY + 9, "received"),  # names no revocation on the chain
        step(ALICE, alice, alice + 1, "received", kind="consent.granted"),  # not a revocation's
    ]
    figures = compute(facts(events, [anchored(5, leaves, len(leaves))]), leaves, NAMING)
    assert figures["propagation"] == {
        "revocations": 3,
        "delivered": 3,
        "acknowledged": 2,
        "share_acknowledged": 0.666667,
        "median_seconds": 1_830.0,
        "worst_seconds": 3_600.0,
    }
    assert figures["releases"]["total"] == 0  # propagation leaves are no releases


def test_without_revocations_there_is_no_share() -> None:
    propagation = compute(facts([], []), [], NAMING)["propagation"]
    assert propagation["share_acknowledged"] is None
    assert propagation["median_seconds"] is None


def test_differences_name_each_path() -> None:
    page = {"a": 1, "b": [1, 2], "c": {"d": True}, "e": 0.5}
    assert differences(page, page) == []
    assert differences(page, {"a": 1.0, "b": [1, 2], "c": {"d": True}, "e": 0.5}) == []
    found = differences(page, {"a": 2, "b": [1], "c": {"d": 1}, "f": None})
    assert "a: page 1, recomputed 2" in found
    assert "b: 2 entries on the page, 1 recomputed" in found
    assert "c.d: page True, recomputed 1" in found
    assert "e: on the page only (0.5)" in found
    assert "f: missing from the page (recomputed None)" in found


@pytest.mark.parametrize("with_history", [False, True])
def test_the_csv_carries_the_same_numbers(with_history: bool) -> None:
    leaves = [release(BRAND, MAIL, EMAIL, T0 + DAY), question(BRAND, T0 + DAY, 1_000_000)]
    events = [granted(1, ALICE, BOTH, FAR), revoked(2, ALICE)] if with_history else []
    figures = compute(facts(events, [anchored(3, leaves, 2)]), leaves, NAMING)
    rows = list(csv.DictReader(io.StringIO(to_csv(figures))))
    assert set(rows[0]) == {"section", "name", "metric", "value"}
    cell = {(r["section"], r["name"], r["metric"]): r["value"] for r in rows}
    assert cell[("grants", "", "given")] == str(figures["grants"]["given"])
    assert cell[("releases_by_purpose", "marketing.email", "releases")] == "1"
    assert cell[("insights", "", "epsilon_spent")] == "1.0"
    assert cell[("log", "", "verifies")] == "true"
    assert cell[("last_anchor", "", "size")] == "2"
    assert sum(1 for r in rows if r["section"] == "daily") == 6 * len(figures["daily"])
