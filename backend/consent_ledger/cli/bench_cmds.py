"""bench gas | views | api | audit | insights | load | webhooks."""

from __future__ import annotations

import argparse
import os
from typing import Any

from consent_ledger.bench.api import api_report
from consent_ledger.bench.audit import audit_report
from consent_ledger.bench.gas import gas_report
from consent_ledger.bench.insights import insights_report
from consent_ledger.bench.load import DEFAULT_PG_ADMIN_URL, load_report
from consent_ledger.bench.views import views_report
from consent_ledger.bench.webhooks import webhooks_report
from consent_ledger.cli.common import emit_json, say, settings_from
from consent_ledger.errors import InputError


def register(commands: Any) -> None:
    p = commands.add_parser("bench", help="benchmarks that print figures")
    sub = p.add_subparsers(dest="bench", metavar="BENCH", required=True)
    g = sub.add_parser("gas", help="gasUsed of every write path, from receipts on a throwaway anvil")
    g.add_argument("--json", action="store_true", help="print one JSON object (the default prints a table)")
    g.set_defaults(handler=cmd_gas)
    v = sub.add_parser("views", help="permission checks/s: hand-encoded batch view vs web3.py")
    v.add_argument("--customers", type=int, default=1_000, help="grants to create first")
    v.add_argument("--questions", type=int, default=5_000, help="questions per batch call")
    v.set_defaults(handler=cmd_views)
    a = sub.add_parser("api", help="API figures: checks/s vs a naive web3.py loop, latency, releases/s, relaying")
    a.add_argument("--json", action="store_true", help="print one JSON object")
    a.add_argument("--customers", type=int, default=1_000)
    a.add_argument("--relayed", type=int, default=1_000)
    a.set_defaults(handler=cmd_api)
    au = sub.add_parser("audit", help="indexer ingest vs web3.py, log appends/s, proofs/s, verify of 100k releases")
    au.add_argument("--json", action="store_true", help="print one JSON object")
    au.add_argument("--events", type=int, default=50_000)
    au.add_argument("--releases", type=int, default=100_000)
    au.set_defaults(handler=cmd_audit)
    ins = sub.add_parser(
        "insights",
        help="one DP histogram query, on-chain check included, over 10k and 100k customers; the stewardship report",
    )
    ins.add_argument("--json", action="store_true", help="print one JSON object")
    ins.add_argument(
        "--customers",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[10_000, 100_000],
        help="comma-separated numbers of consenting customers to measure at (default 10000,100000)",
    )
    ins.add_argument(
        "--history-days",
        type=int,
        default=42,
        help="days of demo history the stewardship report is timed over (as `make run` seeds; 0: skip report_s)",
    )
    ins.add_argument("--history-customers", type=int, default=20, help="demo customers of that history")
    ins.set_defaults(handler=cmd_insights)
    lo = sub.add_parser(
        "load", help="mixed load from client processes against two serve replicas on PostgreSQL, then one"
    )
    lo.add_argument("--json", action="store_true", help="print one JSON object")
    lo.add_argument("--seconds", type=float, default=120.0, help="length of each set-up's run (default 120)")
    lo.add_argument("--clients", type=int, default=4, help="client processes (default 4)")
    lo.add_argument("--customers", type=int, default=200, help="customers granted and stored first")
    lo.add_argument(
        "--pg-admin-url",
        default=os.environ.get("CONSENT_BENCH_PG_ADMIN_URL", DEFAULT_PG_ADMIN_URL),
        help="PostgreSQL URL of a user who may CREATE DATABASE (a throwaway database per set-up)",
    )
    lo.set_defaults(handler=cmd_load)
    wh = sub.add_parser(
        "webhooks",
        help="revocations confirmed on-chain to signed webhooks received on loopback, through the real delivery plane",
    )
    wh.add_argument("--json", action="store_true", help="print one JSON object")
    wh.add_argument("--revocations", type=int, default=1_000, help="revocations to deliver (default 1000)")
    wh.add_argument("--brands", type=int, default=8, help="brands, each with one endpoint (default 8)")
    wh.add_argument("--batch", type=int, default=250, help="revocations per revokeBatchBySig (default 250)")
    wh.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the last webhooks (default 120)")
    wh.add_argument(
        "--pg-admin-url",
        help="on a throwaway PostgreSQL database made with this URL (a user who may CREATE DATABASE); default SQLite",
    )
    wh.set_defaults(handler=cmd_webhooks)


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


def cmd_views(args: argparse.Namespace) -> int:
    report = views_report(settings_from(args), args.customers, args.questions, progress=lambda m: say(f"... {m}"))
    emit_json(report)
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    report = api_report(settings_from(args), args.customers, args.relayed, progress=lambda m: say(f"... {m}"))
    emit_json(report)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    report = audit_report(settings_from(args), args.events, args.releases, progress=lambda m: say(f"... {m}"))
    emit_json(report)
    return 0


def cmd_insights(args: argparse.Namespace) -> int:
    report = insights_report(
        settings_from(args),
        args.customers,
        progress=lambda m: say(f"... {m}"),
        history_days=args.history_days,
        history_customers=args.history_customers,
    )
    emit_json(report)
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    report = load_report(
        settings_from(args),
        seconds=args.seconds,
        clients=args.clients,
        customers=args.customers,
        pg_admin_url=args.pg_admin_url,
        progress=lambda m: say(f"... {m}"),
    )
    emit_json(report)
    return 0 if report["errors"] == 0 else 1


def cmd_webhooks(args: argparse.Namespace) -> int:
    if min(args.revocations, args.brands, args.batch) < 1 or args.wait <= 0:
        raise InputError("--revocations, --brands and --batch are at least 1, --wait positive")
    report = webhooks_report(
        settings_from(args),
        args.revocations,
        brands=args.brands,
        batch=args.batch,
        wait_s=args.wait,
        pg_admin_url=args.pg_admin_url,
        progress=lambda m: say(f"... {m}"),
    )
    emit_json(report)
    return 0 if report["lost"] == 0 and report["duplicates"] == 0 else 1
