"""stewardship report: a brand's public figures recomputed from the chain and an exported log."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import httpx

from consent_ledger.audit import export_file
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.cli.common import emit_json
from consent_ledger.errors import InputError
from consent_ledger.services.stewardship import brand_address
from consent_ledger.stewardship.figures import differences
from consent_ledger.stewardship.report import recompute

# Exit codes (README): 0 the figures stand (and match the page, with --compare); 1 they do not.
EXIT_OK, EXIT_DIFFERENT = 0, 1


def register(commands: Any) -> None:
    p = commands.add_parser("stewardship", help="a brand's public stewardship figures, recomputed independently")
    sub = p.add_subparsers(dest="stewardship", metavar="ACTION", required=True)
    report = sub.add_parser(
        "report", help="recompute every figure of a brand's public page from the chain and an exported log"
    )
    report.add_argument("--brand", required=True, metavar="ADDR")
    report.add_argument("--rpc", required=True, metavar="URL")
    report.add_argument("--log", type=Path, required=True, help="the access log from `consent-ledger audit export`")
    report.add_argument(
        "--compare",
        metavar="URL_OR_FILE",
        help="the page's figures (its JSON download, or the URL GET /v1/stewardship/ADDR): "
        "recompute at the page's block and list every difference",
    )
    report.add_argument("--as-of", type=int, metavar="BLOCK", help="count the chain up to this block")
    report.set_defaults(handler=cmd_report)


def _load_page(where: str) -> dict[str, Any]:
    try:
        if where.startswith(("http://", "https://")):
            response = httpx.get(where, timeout=60, headers={"accept": "application/json"})
            response.raise_for_status()
            page = response.json()
        else:
            page = json.loads(Path(where).read_text())
    except (OSError, ValueError, httpx.HTTPError) as error:
        raise InputError(f"cannot read the page's figures from {where}: {error}") from error
    if not isinstance(page, dict) or not isinstance(page.get("as_of"), dict):
        raise InputError(f"{where} is not a stewardship figures document (no as_of)")
    return page


def cmd_report(args: argparse.Namespace) -> int:
    brand = brand_address(args.brand)
    page = _load_page(args.compare) if args.compare else None
    as_of = int(page["as_of"]["block"]) if page is not None else args.as_of
    rpc = RpcClient(args.rpc)
    try:
        figures = recompute(rpc, export_file.read(args.log), brand, as_of)
    finally:
        rpc.close()
    status = EXIT_OK
    if not figures["log"]["verifies"]:
        for problem in figures["log"]["problems"]:
            print(f"LOG DOES NOT VERIFY: {problem}", file=sys.stderr)
        status = EXIT_DIFFERENT
    if page is None:
        emit_json(figures)
        return status
    found = differences(page, figures)
    emit_json({"as_of": figures["as_of"], "matches": not found, "differences": found})
    for line in found:
        print(f"DIFFERENT {line}", file=sys.stderr)
    return EXIT_DIFFERENT if found else status
