"""`consent-ledger`: one console script, subcommands registered by small modules."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from consent_ledger import __version__
from consent_ledger.cli import (
    audit_cmds,
    backend_cmds,
    bench_cmds,
    chain_cmds,
    db_cmds,
    stewardship_cmds,
    wallet_cmds,
    webhook_cmds,
)
from consent_ledger.errors import LedgerError
from consent_ledger.redaction import redact_text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="consent-ledger",
        description="Customer-signed data-sharing grants on an EVM chain.",
    )
    parser.add_argument("--version", action="version", version=f"consent-ledger {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chain_cmds.register(commands)
    wallet_cmds.register(commands)
    db_cmds.register(commands)
    backend_cmds.register(commands)
    audit_cmds.register(commands)
    stewardship_cmds.register(commands)
    bench_cmds.register(commands)
    webhook_cmds.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except LedgerError as error:
        print(f"error: {redact_text(str(error))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
