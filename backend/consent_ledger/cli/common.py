"""Helpers shared by the subcommand modules: settings from flags, printing."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from consent_ledger.config import Settings
from consent_ledger.redaction import redact_text


def add_rpc_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rpc", metavar="URL", help="JSON-RPC endpoint (default: $CONSENT_RPC_URL or the devnet)")


def settings_from(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "rpc", None):
        overrides["rpc_url"] = args.rpc
    return Settings(**overrides)


def say(message: str) -> None:
    """Progress for people, on stderr so stdout stays machine-readable; URLs in it are redacted."""
    print(redact_text(message), file=sys.stderr, flush=True)


def emit_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str))
