"""Brands side by side (issue 12 item 2, the compare page): the pure comparison of figures documents and its
CSV table, a row per metric and a column per brand."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from consent_ledger.errors import InputError
from consent_ledger.stewardship.comparison import combine, to_csv

CHAIN = {"chain_id": 31337, "contract": "0x" + "11" * 20, "custodian": "0x" + "22" * 20}
AS_OF = {"block": 40, "time": "2026-11-30T12:00:00Z"}


def figures(brand: str, *, purposes: dict[str, int], days: list[str], notice: bool, as_of: Any = AS_OF) -> Any:
    day = {"given": 1, "narrowed": 0, "revoked": 0, "releases": 2, "insight_queries": 0, "epsilon": 0.0}
    return {
        "brand": brand,
        "chain": CHAIN,
        "as_of": as_of,
        "grants": {"given": 3, "narrowed": 0, "revoked": 1, "active": 2},
        "releases": {
            "total": sum(purposes.values()),
            "by_purpose": [{"name": n, "releases": c} for n, c in purposes.items()],
            "by_category": [],
        },
        "insights": {"queries": 0, "epsilon_spent": 0.0},
        "propagation": {
            "revocations": 1,
            "delivered": 1,
            "acknowledged": 0,
            "share_acknowledged": 0.0,
            "median_seconds": None,
            "worst_seconds": None,
        },
        "log": {"verifies": True, "problems": [], "anchored_leaves": 9, "anchors": 1, "last_anchor": None},
        "notices": [{"hash": "0xaa", "version": "v1", "grants": 3, "active": 2}] if notice else [],
        "daily": [{"day": d, **day} for d in days],
    }


A = "0x" + "aa" * 20
B = "0x" + "bb" * 20


def table(text: str) -> dict[tuple[str, ...], list[str]]:
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["section", "name", "metric", A, B]
    return {tuple(row[:3]): row[3:] for row in rows[1:]}


def test_a_missing_count_is_zero_and_a_missing_notice_is_empty() -> None:
    left = figures(A, purposes={"marketing.email": 5}, days=["2026-11-28"], notice=True)
    right = figures(B, purposes={"marketing.sms": 2}, days=["2026-11-29"], notice=False)
    cells = table(to_csv(combine([left, right])))
    assert cells[("releases_by_purpose", "marketing.email", "releases")] == ["5", "0"]
    assert cells[("releases_by_purpose", "marketing.sms", "releases")] == ["0", "2"]
    assert cells[("daily", "2026-11-29", "given")] == ["0", "1"]
    assert cells[("notice", "0xaa", "version")] == ["v1", ""]
    assert cells[("as_of", "", "block")] == ["40", "40"]
    assert cells[("log", "", "verifies")] == ["true", "true"]


def test_daily_rows_are_in_day_order_over_every_brand() -> None:
    left = figures(A, purposes={}, days=["2026-11-27", "2026-11-29"], notice=False)
    right = figures(B, purposes={}, days=["2026-11-28"], notice=False)
    text = to_csv(combine([left, right]))
    days = [row[1] for row in csv.reader(io.StringIO(text)) if row[0] == "daily"]
    assert days == sorted(days)
    assert sorted(set(days)) == ["2026-11-27", "2026-11-28", "2026-11-29"]


def test_figures_of_different_blocks_are_not_combined() -> None:
    left = figures(A, purposes={}, days=[], notice=False)
    right = figures(B, purposes={}, days=[], notice=False, as_of={"block": 41, "time": AS_OF["time"]})
    with pytest.raises(InputError, match="one block"):
        combine([left, right])


@pytest.mark.parametrize("count", [0, 1, 9])
def test_two_to_eight_brands(count: int) -> None:
    with pytest.raises(InputError, match="2 to 8"):
        combine([figures(A, purposes={}, days=[], notice=False)] * count)
