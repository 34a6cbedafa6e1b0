"""db upgrade | status: the database schema, migrated only when asked."""

from __future__ import annotations

import argparse
from typing import Any

from consent_ledger.chain.connect import connect
from consent_ledger.cli.common import add_rpc_flag, emit_json, say, settings_from
from consent_ledger.composition import database_url, open_storage
from consent_ledger.db.engine import normalize_url
from consent_ledger.db.migrate import current_revision, head_revision


def register(commands: Any) -> None:
    p = commands.add_parser("db", help="the deployment's database: upgrade its schema, or show where it stands")
    sub = p.add_subparsers(dest="db", metavar="ACTION", required=True)
    upgrade = sub.add_parser("upgrade", help="migrate the database to this version's schema and bind it (idempotent)")
    add_rpc_flag(upgrade)
    upgrade.set_defaults(handler=cmd_upgrade)
    status = sub.add_parser("status", help="the schema revision the database is at, and the one this version needs")
    add_rpc_flag(status)
    status.set_defaults(handler=cmd_status)


def _shown(url: str) -> str:
    return normalize_url(url).render_as_string(hide_password=True)


def cmd_upgrade(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    storage = open_storage(settings, migrate=True)
    try:
        url = database_url(settings, storage.deployment)
    finally:
        storage.close()
    say(
        f"database {_shown(url)} is at schema {head_revision()}, bound to {storage.deployment.address} "
        f"on chain {storage.deployment.label}"
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    ledger, deployment = connect(settings)
    ledger.rpc.close()
    url = database_url(settings, deployment)
    current, head = current_revision(url), head_revision()
    emit_json({"database": _shown(url), "current": current, "head": head, "up_to_date": current == head})
    return 0 if current == head else 1
