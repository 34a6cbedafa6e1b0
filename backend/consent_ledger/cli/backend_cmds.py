"""serve, seed, relay, brand, login: the backend from the command line."""

from __future__ import annotations

import argparse
import json
import logging
import logging.config
import os
import sys
import urllib.request
from pathlib import Path
from typing import Any

import uvicorn
from eth_account import Account
from eth_account.messages import encode_defunct
from rich.progress import Progress

from consent_ledger.api.app import create_app
from consent_ledger.cli.common import emit_json, say, settings_from
from consent_ledger.composition import build_context
from consent_ledger.config import Settings
from consent_ledger.errors import InputError
from consent_ledger.observability.logs import FIELDS, logging_config
from consent_ledger.observability.metrics import MULTIPROC_ENV, fresh_multiprocess_dir
from consent_ledger.services.demo import BRANDS, demo_account, seed
from consent_ledger.services.demo_history import seed_history

# A worker answers the supervisor's health check once it has imported the app and connected: on a
# busy host that takes longer than uvicorn's 5 s default, and the supervisor would restart it forever.
WORKER_STARTUP_SECONDS = 60

log = logging.getLogger("consent_ledger.serve")


def register(commands: Any) -> None:
    p = commands.add_parser("serve", help="run the HTTP API (and its relayer) with uvicorn")
    p.add_argument("--host", help="bind address (default $CONSENT_API_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default $CONSENT_API_PORT or 8000)")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="uvicorn worker processes (each a replica; relayer, anchorer and indexer each run on one at a time)",
    )
    p.add_argument("--no-relayer", action="store_true", help="run no background jobs here (relayer, anchorer, indexer)")
    p.set_defaults(handler=cmd_serve)

    p = commands.add_parser("seed", help="demo brands, customers, records and grants (devnet only)")
    p.add_argument("--customers", type=int, default=20)
    p.add_argument(
        "--history-days",
        type=int,
        default=0,
        help="then that many days of history (grants, narrowing, revocations, releases, questions) for the "
        "stewardship pages; needs a devnet started with `devnet start --history-days`",
    )
    p.set_defaults(handler=cmd_seed)

    p = commands.add_parser("relay", help="relay the outbox: once until empty, or --follow")
    p.add_argument("--follow", action="store_true", help="keep relaying until interrupted")
    p.set_defaults(handler=cmd_relay)

    p = commands.add_parser("brand", help="register brands")
    sub = p.add_subparsers(dest="brand", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="register (or rename) a brand")
    add.add_argument("address")
    add.add_argument("name")
    add.set_defaults(handler=cmd_brand_add)
    remove = sub.add_parser("remove", help="unregister a brand (its signed-in sessions lose the brand role at once)")
    remove.add_argument("address")
    remove.set_defaults(handler=cmd_brand_remove)
    ls = sub.add_parser("list", help="registered brands")
    ls.set_defaults(handler=cmd_brand_list)

    p = commands.add_parser("login", help="sign in to a running API with a key and print a bearer token")
    p.add_argument("--api", default=None, help="API base URL (default http://$CONSENT_API_HOST:$CONSENT_API_PORT)")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--demo", help="a demo account from `seed`: acme, lumen, orbit, or customer0, customer1...")
    who.add_argument("--key-file", type=Path, help="file holding a hex private key (first line)")
    p.set_defaults(handler=cmd_login)

    p = commands.add_parser("demo-keys", help="the demo accounts' public test keys, to import into a browser wallet")
    p.add_argument("--customers", type=int, default=3)
    p.set_defaults(handler=cmd_demo_keys)

    p = commands.add_parser("sign", help="sign EIP-712 typed data (JSON on stdin or --file) as a wallet would")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--demo", help="a demo account from `seed`")
    who.add_argument("--key-file", type=Path, help="file holding a hex private key (first line)")
    p.add_argument("--file", type=Path, help="typed data JSON (default: stdin)")
    p.set_defaults(handler=cmd_sign)


def _settings(args: argparse.Namespace) -> Settings:
    settings = settings_from(args)
    overrides: dict[str, Any] = {}
    if getattr(args, "host", None):
        overrides["api_host"] = args.host
    if getattr(args, "port", None):
        overrides["api_port"] = args.port
    return settings.model_copy(update=overrides) if overrides else settings


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.no_relayer:
        settings = settings.model_copy(update={"background_jobs": False})
    settings.check_production()
    if args.workers < 1:
        raise InputError("--workers must be at least 1")
    # Every line on stderr is JSON from here on: one per request (ours, with its request id; uvicorn's
    # access log is off), and uvicorn's own messages.
    logging.config.dictConfig(logging_config())
    url = f"http://{settings.api_host}:{settings.api_port}"
    log.info("serving the API on %s (OpenAPI docs at /docs)", url, extra={FIELDS: {"url": url}})
    if args.workers == 1:
        uvicorn.run(
            create_app(settings),
            host=settings.api_host,
            port=settings.api_port,
            log_config=logging_config(),
            access_log=False,
        )
        return 0
    # Each worker process builds its own app from the environment: hand it what the flags changed.
    os.environ["CONSENT_API_HOST"] = settings.api_host
    os.environ["CONSENT_API_PORT"] = str(settings.api_port)
    os.environ["CONSENT_BACKGROUND_JOBS"] = "true" if settings.background_jobs else "false"
    # The workers share their metrics through files there (prometheus-client's multiprocess mode), so
    # a scrape of any worker counts every worker's requests.
    os.environ.setdefault(MULTIPROC_ENV, str(fresh_multiprocess_dir(settings.var_path, settings.api_port)))
    uvicorn.run(
        "consent_ledger.api.app:app_from_environment",
        factory=True,
        workers=args.workers,
        timeout_worker_healthcheck=WORKER_STARTUP_SECONDS,
        host=settings.api_host,
        port=settings.api_port,
        log_config=logging_config(),
        access_log=False,
    )
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    context = build_context(settings_from(args))
    try:
        with Progress(transient=True) as progress:
            task = progress.add_task("seeding customers", total=args.customers)
            report = seed(context, args.customers, lambda _s, done, _t: progress.update(task, completed=done))
            days = progress.add_task("seeding history", total=max(args.history_days, 1))
            customers = [demo_account(f"customer {n}") for n in range(args.customers)]
            step = lambda _s, n, _t: progress.update(days, completed=n)  # noqa: E731
            history = seed_history(context, customers, report.brands, args.history_days, step)
    finally:
        context.close()
    say(f"seeded {len(report.brands)} brands, {len(report.customers)} customers, {report.submissions} new grants")
    if history.days:
        say(
            f"and {history.days} days of history: {history.grants} grants, {history.narrowed} narrowed, "
            f"{history.revoked} revoked, {history.releases} records released, {history.questions} questions"
        )
    emit_json({"brands": report.brands, "customers": report.customers[:5], "more_customers": len(report.customers) - 5})
    return 0


def cmd_relay(args: argparse.Namespace) -> int:
    context = build_context(settings_from(args))
    try:
        if args.follow:
            say("relaying; Ctrl-C to stop")
            context.relayer.start(context.settings.relayer_interval)
            try:
                while True:
                    context.relayer.wait(3600)
            except KeyboardInterrupt:
                pass
        else:
            context.relayer.drain()
        say(f"outbox: {context.outbox.counts()}")
    finally:
        context.close()
    return 0


def cmd_brand_add(args: argparse.Namespace) -> int:
    context = build_context(settings_from(args))
    try:
        address = context.brands.add(args.address, args.name)
    finally:
        context.close()
    say(f"registered {args.name} at {address}")
    return 0


def cmd_brand_remove(args: argparse.Namespace) -> int:
    context = build_context(settings_from(args))
    try:
        removed = context.brands.remove(args.address)
    finally:
        context.close()
    if not removed:
        raise InputError(f"{args.address} is not a registered brand")
    say(f"unregistered {args.address}")
    return 0


def cmd_brand_list(args: argparse.Namespace) -> int:
    context = build_context(settings_from(args))
    try:
        emit_json(context.brands.all())
    finally:
        context.close()
    return 0


def _key(args: argparse.Namespace) -> bytes:
    if args.key_file is not None:
        return bytes.fromhex(args.key_file.read_text().split()[0].removeprefix("0x"))
    label = str(args.demo)
    if label in {b for b, _ in BRANDS}:
        return bytes(demo_account(f"brand {label}").key)
    if label.startswith("customer") and label[8:].isdigit():
        return bytes(demo_account(f"customer {int(label[8:])}").key)
    raise InputError(f"unknown demo account {label!r}: use acme, lumen, orbit or customer0, customer1, ...")


def _http(method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 -- our own API, URL from the user
            return dict(json.loads(reply.read()))
    except urllib.error.HTTPError as error:
        raise InputError(f"{method} {url} answered {error.code}: {error.read().decode(errors='replace')}") from error
    except OSError as error:
        raise InputError(f"cannot reach {url}: {error}") from error


def cmd_login(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    base = (args.api or f"http://{settings.api_host}:{settings.api_port}").rstrip("/")
    account = Account.from_key(_key(args))
    challenge = _http("GET", f"{base}/v1/auth/nonce?address={account.address}")
    signature = Account.sign_message(encode_defunct(text=challenge["message"]), account.key).signature
    login = _http(
        "POST", f"{base}/v1/auth/login", {"message": challenge["message"], "signature": "0x" + signature.hex()}
    )
    say(f"signed in as {login['address']} ({', '.join(login['roles'])}) until {login['expires_at']}")
    print(login["token"])
    return 0


def cmd_sign(args: argparse.Namespace) -> int:
    text = args.file.read_text() if args.file else sys.stdin.read()
    try:
        typed = json.loads(text)
    except ValueError as error:
        raise InputError(f"the typed data is not JSON: {error}") from error
    if not isinstance(typed, dict) or not {"types", "domain", "message", "primaryType"} <= set(typed):
        raise InputError("expected EIP-712 typed data with types, domain, primaryType and message")
    signature = Account.sign_typed_data(_key(args), full_message=typed).signature
    print("0x" + bytes(signature).hex())
    return 0


def cmd_demo_keys(args: argparse.Namespace) -> int:
    say("Public, worthless test keys of the devnet demo accounts (never use them anywhere else):")
    rows = [(f"brand {label} ({name})", demo_account(f"brand {label}")) for label, name in BRANDS]
    rows += [(f"customer{n}", demo_account(f"customer {n}")) for n in range(args.customers)]
    for label, account in rows:
        print(f"{label:28} {account.address}  {'0x' + bytes(account.key).hex()}")
    return 0
