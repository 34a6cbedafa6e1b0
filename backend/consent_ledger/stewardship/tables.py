"""A figures document as one CSV table: `section,name,metric,value` rows, the same numbers as the JSON, metrics
in name order (so a document read back from sorted JSON gives the same table)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

COLUMNS = ["section", "name", "metric", "value"]


def cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def rows(figures: dict[str, Any]) -> Iterator[tuple[str, str, str, Any]]:
    yield "as_of", "", "block", figures["as_of"]["block"]
    yield "as_of", "", "time", figures["as_of"]["time"]
    for metric, value in sorted(figures["grants"].items()):
        yield "grants", "", metric, value
    yield "releases", "", "total", figures["releases"]["total"]
    for row in figures["releases"]["by_purpose"]:
        yield "releases_by_purpose", row["name"], "releases", row["releases"]
    for row in figures["releases"]["by_category"]:
        yield "releases_by_category", row["name"], "releases", row["releases"]
    for metric, value in sorted(figures["insights"].items()):
        yield "insights", "", metric, value
    for metric, value in sorted(figures["propagation"].items()):
        yield "propagation", "", metric, value
    log = figures["log"]
    for metric in ("verifies", "anchored_leaves", "anchors"):
        yield "log", "", metric, log[metric]
    for metric, value in sorted((log["last_anchor"] or {}).items()):
        yield "last_anchor", "", metric, value
    for row in figures["notices"]:
        for metric in ("version", "grants", "active"):
            yield "notice", row["hash"], metric, row[metric]
    for row in figures["daily"]:
        for metric, value in sorted(row.items()):
            if metric != "day":
                yield "daily", row["day"], metric, value


def to_csv(figures: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for section, name, metric, value in rows(figures):
        writer.writerow([section, name, metric, cell(value)])
    return out.getvalue()
