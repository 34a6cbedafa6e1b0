"""Brands side by side, pure: several brands' figures documents, all computed at one block, in one comparison
document, and that comparison as one CSV table with a row per metric and a column per brand.

The rows are the per-brand table's (`tables.rows`): `section,name,metric`, then one value per brand. A brand
without a row of a section that counts things (no release for that purpose, no activity that day) has 0 there;
a brand without a notice row has an empty cell. Daily rows are in day order over every brand's days.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from consent_ledger.errors import InputError
from consent_ledger.stewardship.tables import cell, rows

FORMAT = "consent-ledger-stewardship-compare"
VERSION = 1
MIN_BRANDS = 2
MAX_BRANDS = 8
COUNTED = frozenset({"releases_by_purpose", "releases_by_category", "daily"})  # absent means none that day/name

Key = tuple[str, str, str]


def combine(documents: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One comparison of figures documents that share their chain and their as-of block (else `InputError`)."""
    if not MIN_BRANDS <= len(documents) <= MAX_BRANDS:
        raise InputError(f"compare {MIN_BRANDS} to {MAX_BRANDS} brands, not {len(documents)}")
    first = documents[0]
    for other in documents[1:]:
        if other["as_of"] != first["as_of"] or other["chain"] != first["chain"]:
            raise InputError("the figures to compare were not computed at one block of one chain")
    return {
        "format": FORMAT,
        "version": VERSION,
        "chain": first["chain"],
        "as_of": first["as_of"],
        "brands": list(documents),
    }


def _table(comparison: dict[str, Any]) -> tuple[list[Key], list[dict[Key, Any]]]:
    columns: list[dict[Key, Any]] = []
    order: dict[Key, int] = {}
    sections: dict[str, int] = {}
    for figures in comparison["brands"]:
        column: dict[Key, Any] = {}
        for section, name, metric, value in rows(figures):
            key = (section, name, metric)
            column[key] = value
            sections.setdefault(section, len(sections))
            order.setdefault(key, len(order))
        columns.append(column)

    def place(key: Key) -> tuple[int, str, int]:
        section, name, _metric = key
        return (sections[section], name if section == "daily" else "", order[key])

    return sorted(order, key=place), columns


def to_csv(comparison: dict[str, Any]) -> str:
    """`section,name,metric,<brand>...`: every metric of any brand, each brand's value in its column."""
    keys, columns = _table(comparison)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "name", "metric", *(f["brand"] for f in comparison["brands"])])
    for key in keys:
        missing = 0 if key[0] in COUNTED else None
        writer.writerow([*key, *(cell(column.get(key, missing)) for column in columns)])
    return out.getvalue()
