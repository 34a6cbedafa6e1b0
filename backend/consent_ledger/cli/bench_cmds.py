"""bench gas (and later bench api / bench audit)."""

from __future__ import annotations

import argparse
from typing import Any

from consent_ledger.bench.gas import gas_report
from consent_ledger.cli.common import emit_json, say, settings_from


def register(commands: Any) -> None:
    p = commands.add_parser("bench", help="benchmarks that print figures")
    sub = p.add_subparsers(dest="bench", metavar="BENCH", required=True)
    g = sub.add_parser("gas", help="gasUsed of every write path, from receipts on a throwaway anvil")
    g.add_argument("--json", action="store_true", help="print one JSON object (the default prints a table)")
    g.set_defaults(handler=cmd_gas)


def cmd_gas(args: argparse.Namespace) -> int:
    report = gas_report(settings_from(args), progress=lambda m: say(f"... {m}"))
    if args.json:
        emit_json(report)
        return 0
    targets: dict[str, int] = report["targets"]  # type: ignore[assignment]
    for name, value in report.items():
        if isinstance(value, int) and not isinstance(value, bool):
            limit = targets.get(name)
            note = f"  (target <= {limit:,}: {'ok' if value <= limit else 'MISSED'})" if limit else ""
            print(f"{name:28} {value:>8,}{note}")
    return 0
