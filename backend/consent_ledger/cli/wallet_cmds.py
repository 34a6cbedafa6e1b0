"""The customer's own tools: account, grant, revoke, check, show. They talk to the chain directly
with the customer's key from an encrypted keystore, so no server of ours is needed (above all to
revoke)."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_utils.address import is_address, to_checksum_address

from consent_ledger.catalog import default_catalog
from consent_ledger.chain.connect import connect
from consent_ledger.chain.events import GRANTED, REVOKED
from consent_ledger.chain.keystore import create_keystore, keystore_address, load_keystore, read_password
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.cli.common import add_rpc_flag, emit_json, say, settings_from
from consent_ledger.domain import uniform_terms
from consent_ledger.errors import InputError

DAY = 86_400
DEFAULT_DAYS = 180


def _address(value: str) -> str:
    if not is_address(value):
        raise argparse.ArgumentTypeError(f"not an Ethereum address: {value!r}")
    return str(to_checksum_address(value))


def _keystore_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keystore", type=Path, required=True, help="encrypted keystore file of the customer")
    p.add_argument("--password-file", type=Path, help="read the password from this file instead of prompting")


def register(commands: Any) -> None:
    p = commands.add_parser("account", help="create or inspect a customer keystore")
    sub = p.add_subparsers(dest="account", metavar="ACTION", required=True)
    new = sub.add_parser("new", help="create an encrypted keystore with a new key")
    _keystore_flags(new)
    new.set_defaults(handler=cmd_account_new)
    show = sub.add_parser("show", help="print the keystore's address")
    show.add_argument("--keystore", type=Path, required=True)
    show.set_defaults(handler=cmd_account_show)
    fund = sub.add_parser("fund", help="give an address test ETH (devnet only)")
    fund.add_argument("address", type=_address)
    fund.add_argument("--eth", type=float, default=10.0)
    add_rpc_flag(fund)
    fund.set_defaults(handler=cmd_account_fund)

    p = commands.add_parser("grant", help="grant a brand access, signed and sent from your own key")
    _keystore_flags(p)
    add_rpc_flag(p)
    p.add_argument("--brand", type=_address, required=True)
    p.add_argument(
        "--allow",
        action="append",
        metavar="PURPOSE=CATEGORY[,CATEGORY...]",
        help="a purpose and the data it may use (catalog names); repeat for each purpose",
    )
    p.add_argument("--categories", help="with --purposes: the same data for each purpose (names or a bitmask)")
    p.add_argument("--purposes", help="with --categories: catalog names, comma-separated (or a bitmask)")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--days", type=int, help=f"grant lasts this many days (default {DEFAULT_DAYS})")
    when.add_argument("--until", help="grant ends at this date/time (ISO 8601, UTC if no zone)")
    p.set_defaults(handler=cmd_grant)

    p = commands.add_parser("revoke", help="revoke a brand's access, sent from your own key (no relayer)")
    _keystore_flags(p)
    add_rpc_flag(p)
    p.add_argument("--brand", type=_address, required=True)
    p.set_defaults(handler=cmd_revoke)

    p = commands.add_parser("check", help="does a customer allow a brand these categories and purposes?")
    add_rpc_flag(p)
    p.add_argument("--customer", type=_address, required=True)
    p.add_argument("--brand", type=_address, required=True)
    p.add_argument("--categories", required=True)
    p.add_argument("--purposes", required=True)
    p.set_defaults(handler=cmd_check)

    p = commands.add_parser("show", help="a customer's grants as the chain holds them")
    add_rpc_flag(p)
    p.add_argument("--customer", type=_address, required=True)
    p.add_argument("--brand", type=_address, help="only this brand (default: every brand ever granted)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_show)


def cmd_account_new(args: argparse.Namespace) -> int:
    account = create_keystore(args.keystore, read_password(args.password_file, confirm=True))
    say(f"created {args.keystore} (keep it and its password safe)")
    print(account.address)
    return 0


def cmd_account_show(args: argparse.Namespace) -> int:
    print(to_checksum_address(keystore_address(args.keystore)))
    return 0


def cmd_account_fund(args: argparse.Namespace) -> int:
    rpc = RpcClient(settings_from(args).rpc_url)
    if rpc.chain_id() != 31337:
        raise InputError("funding only works on the local devnet (chain 31337)")
    rpc.request("anvil_setBalance", [args.address, hex(int(args.eth * 10**18))])
    say(f"{args.address} now holds {args.eth} test ETH")
    return 0


def _expiry(args: argparse.Namespace) -> int:
    if args.until:
        try:
            moment = datetime.fromisoformat(args.until)
        except ValueError as exc:
            raise InputError(f"--until {args.until!r} is not an ISO 8601 date/time") from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp())
    days = DEFAULT_DAYS if args.days is None else args.days
    if days <= 0:
        raise InputError("--days must be positive")
    return int(time.time()) + days * DAY


def _when(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if timestamp else "-"


def cmd_grant(args: argparse.Namespace) -> int:
    catalog = default_catalog()
    if args.allow and (args.categories or args.purposes):
        raise InputError("give --allow PURPOSE=CATEGORIES (per purpose), or --categories with --purposes, not both")
    if args.allow:
        terms = catalog.parse_allow(args.allow)
    elif args.categories and args.purposes:
        terms = uniform_terms(catalog.parse_categories(args.categories), catalog.parse_purposes(args.purposes))
    else:
        raise InputError("say what you allow: --allow PURPOSE=CATEGORY[,CATEGORY...] for each purpose")
    expires_at = _expiry(args)
    account = load_keystore(args.keystore, read_password(args.password_file))
    ledger, _ = connect(settings_from(args))
    notice = bytes.fromhex(catalog.notice.hash[2:])
    result = ledger.grant(ledger.sender(account.key), args.brand, terms, expires_at, notice)
    for term in catalog.terms_names(terms):
        say(f"  {term['purpose']}: {', '.join(term['categories'])}")
    say(f"granted {args.brand} until {_when(expires_at)} in block {result.receipt.block_number}")
    print(result.receipt.tx_hash)
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    account = load_keystore(args.keystore, read_password(args.password_file))
    ledger, _ = connect(settings_from(args))
    result = ledger.revoke(ledger.sender(account.key), args.brand)
    say(f"revoked {args.brand} in block {result.receipt.block_number}")
    print(result.receipt.tx_hash)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    catalog = default_catalog()
    categories = catalog.parse_categories(args.categories)
    purposes = catalog.parse_purposes(args.purposes)
    ledger, _ = connect(settings_from(args))
    block = ledger.rpc.block_number()
    allowed = ledger.is_allowed(args.customer, args.brand, categories, purposes, block)
    print(f"{'allowed' if allowed else 'denied'} at block {block}")
    return 0 if allowed else 3


def _brands_granted(rpc: RpcClient, address: str, customer: str, from_block: int) -> list[str]:
    topic = "0x" + "00" * 12 + customer[2:].lower()
    logs = rpc.request(
        "eth_getLogs",
        [
            {
                "address": address,
                "fromBlock": hex(from_block),
                "toBlock": "latest",
                "topics": [[GRANTED, REVOKED], topic],
            }
        ],
    )
    seen: dict[str, None] = {}
    for log in logs:
        seen[to_checksum_address("0x" + log["topics"][2][-40:])] = None
    return list(seen)


def cmd_show(args: argparse.Namespace) -> int:
    catalog = default_catalog()
    ledger, deployment = connect(settings_from(args))
    block = ledger.rpc.get_block("latest")
    number, now = int(block["number"], 16), int(block["timestamp"], 16)
    brands = (
        [args.brand]
        if args.brand
        else _brands_granted(ledger.rpc, ledger.address, args.customer, deployment.deploy_block)
    )
    rows: list[dict[str, Any]] = []
    for brand in brands:
        state = ledger.grant_of(args.customer, brand, number)
        rows.append(
            {
                "brand": brand,
                "active": state.active_at(now),
                "terms": catalog.terms_names(state.terms),
                "categories": catalog.category_names(state.categories) if state.categories else [],
                "purposes": catalog.purpose_names(state.purposes) if state.purposes else [],
                "expires_at": state.expires_at,
                "granted_at": state.granted_at,
                "nonce": state.nonce,
            }
        )
    if args.json:
        emit_json({"customer": args.customer, "block": number, "grants": rows})
        return 0
    say(f"grants of {args.customer} at block {number}:")
    if not rows:
        print("  none")
    for row in rows:
        status = "ACTIVE " if row["active"] else "inactive"
        print(f"  {status} {row['brand']} until {_when(int(row['expires_at']))}")
        if row["active"]:
            for term in row["terms"]:
                print(f"           for {term['purpose']}: {', '.join(term['categories'])}")
    return 0
