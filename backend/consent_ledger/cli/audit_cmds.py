"""audit export | verify | anchor, and index: the auditor's and custodian's tools."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from consent_ledger.audit import export_file
from consent_ledger.audit.verifier import ACK_WITHIN, verify_log
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.cli.common import emit_json, say, settings_from
from consent_ledger.cli.index_cmd import index_command
from consent_ledger.composition import build_context
from consent_ledger.errors import ChainError


def register(commands: Any) -> None:
    p = commands.add_parser("audit", help="export, verify and anchor the access log")
    sub = p.add_subparsers(dest="audit", metavar="ACTION", required=True)

    export = sub.add_parser("export", help="anchor what is not anchored yet, then write the log to a file")
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--no-anchor", action="store_true", help="export as is, without anchoring first")
    export.set_defaults(handler=cmd_export)

    verify = sub.add_parser("verify", help="check a log file against the chain (no database, no API)")
    verify.add_argument("--rpc", required=True, metavar="URL")
    verify.add_argument("--log", type=Path, required=True)
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.add_argument(
        "--ack-within",
        type=int,
        default=ACK_WITHIN,
        metavar="SECONDS",
        help="report revocations and erasures not told to, or not acknowledged by, a brand after this long",
    )
    verify.set_defaults(handler=cmd_verify)

    anchor = sub.add_parser("anchor", help="anchor the current log root on-chain now")
    anchor.set_defaults(handler=cmd_anchor)

    index = commands.add_parser("index", help="index the contract's events into the database (backfill, --follow)")
    index.add_argument("--follow", action="store_true", help="keep following new blocks and reorgs")
    index.set_defaults(handler=cmd_index)


def cmd_export(args: argparse.Namespace) -> int:
    context = build_context(settings_from(args))
    try:
        if not args.no_anchor:
            anchored = context.anchorer.anchor_now()
            if anchored is not None:
                say(f"anchored size {anchored.size} in block {anchored.block_number}")
        exported = context.audit.export()
        count = export_file.write(args.out, exported)
    finally:
        context.close()
    say(
        f"wrote {count} leaves, {len(exported.anchors)} anchors and {len(exported.proofs)} consistency proofs "
        f"to {args.out}"
    )
    return 0


# `audit verify` exit codes (README): what an auditor's script can branch on.
EXIT_OK, EXIT_VIOLATIONS, EXIT_UNVERIFIED = 0, 1, 2


def cmd_verify(args: argparse.Namespace) -> int:
    log = export_file.read(args.log)
    rpc = RpcClient(args.rpc)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    try:
        with Progress(*columns, transient=True) as progress:
            task = progress.add_task("verifying releases", total=max(len(log.leaves), 1))
            report = verify_log(
                rpc, log, lambda _s, done, _t: progress.update(task, completed=done), ack_within=args.ack_within
            )
    except ChainError as error:
        print(f"could not verify: {error}", file=sys.stderr)
        return EXIT_UNVERIFIED
    if args.json:
        emit_json(
            {
                "summary": report.summary(),
                "violations": [v.to_json() for v in report.violations],
                "unverified": [u.to_json() for u in report.unverified],
                "unacknowledged": [u.to_json() for u in report.unacknowledged],
            }
        )
    else:
        summary = report.summary()
        print(
            f"{summary['leaves']} leaves, {summary['anchors']} on-chain anchors, "
            f"{summary['releases_checked']} releases re-checked at {summary['blocks']} blocks"
        )
        if summary["notices_owed"] or report.propagation_steps:
            print(
                f"{summary['notices_owed']} revocations and erasures owed to brands; "
                f"{report.propagation_steps.get('delivered', 0)} delivered, "
                f"{report.propagation_steps.get('acknowledged', 0)} acknowledgements"
            )
        for violation in report.violations:
            where = f" (leaf {violation.leaf})" if violation.leaf is not None else ""
            print(f"VIOLATION {violation.kind}{where}: {violation.detail}")
        for unchecked in report.unverified:
            where = f" (leaf {unchecked.leaf})" if unchecked.leaf is not None else ""
            print(f"UNVERIFIED {unchecked.kind}{where}: {unchecked.detail}")
        for late in report.unacknowledged:
            print(f"UNACKNOWLEDGED (leaf {late.leaf}): {late.detail}")
        if report.violations:
            print(f"{len(report.violations)} violations")
        if report.unverified:
            print(f"{len(report.unverified)} releases could not be checked")
        if report.ok:
            print("OK: every release was covered by a grant at its block")
    return {"ok": EXIT_OK, "violations": EXIT_VIOLATIONS}.get(report.status, EXIT_UNVERIFIED)


def cmd_anchor(args: argparse.Namespace) -> int:
    context = build_context(settings_from(args))
    try:
        anchored = context.anchorer.anchor_now()
    finally:
        context.close()
    if anchored is None:
        say("nothing new to anchor")
    else:
        say(f"anchored size {anchored.size}, root {anchored.root}, tx {anchored.tx_hash}")
        print(json.dumps(anchored.to_json()))
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    index_command(settings_from(args), follow=args.follow)
    return 0
