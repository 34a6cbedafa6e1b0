"""webhook listen: a demo receiver on loopback that verifies, prints and acknowledges webhooks.

It trusts the endpoint's secret (`v1`, from --secret or $CONSENT_LEDGER_WEBHOOK_SECRET), the
installation's public key (`v1a`, fetched from --server's well-known URL), or both: every kind it is
given must verify. With --register it makes itself an endpoint of the brand whose API key it is given
(the shown-once secret goes straight into the verifier) and deletes that endpoint when it stops, unless
--keep. Events go to stdout, one line each; everything else to stderr.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from types import FrameType
from typing import Any

from consent_ledger.apimodels.webhook_events import EVENT_TYPES
from consent_ledger.cli.common import say
from consent_ledger.client import BrandClient, RequestRefusedError, WebhookVerifier
from consent_ledger.client.receiver import Received, ReceiverServer, WebhookReceiver, fetch_public_keys
from consent_ledger.errors import ClientError, ConfigError, InputError

SECRET_ENV = "CONSENT_LEDGER_WEBHOOK_SECRET"  # noqa: S105 (the variable's name, no secret)
API_KEY_ENV = "CONSENT_LEDGER_API_KEY"
DEFAULT_PORT = 8787
DESCRIPTION = "consent-ledger webhook listen"


def register(commands: Any) -> None:
    p = commands.add_parser("webhook", help="webhook tools for brands: a demo receiver")
    sub = p.add_subparsers(dest="webhook", metavar="ACTION", required=True)
    listen = sub.add_parser(
        "listen",
        help="receive webhooks on loopback: verify each, print it on one line, acknowledge it",
        description=__doc__,
    )
    listen.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0: any free one)"
    )
    listen.add_argument("--path", default="/", help="the path webhooks are POSTed to (default /)")
    listen.add_argument("--secret", help=f"the endpoint's whsec_ secret, verifies v1 (default ${SECRET_ENV})")
    listen.add_argument("--server", metavar="URL", help="Consent Ledger's base URL: its public key verifies v1a")
    listen.add_argument(
        "--register",
        action="store_true",
        help="make this receiver an endpoint of your brand (needs --server and --api-key)",
    )
    listen.add_argument("--api-key", help=f"a clk_ key with webhooks:manage, for --register (default ${API_KEY_ENV})")
    listen.add_argument(
        "--events",
        nargs="+",
        choices=EVENT_TYPES,
        default=list(EVENT_TYPES),
        metavar="TYPE",
        help="event types to register for (default all: " + ", ".join(EVENT_TYPES) + ")",
    )
    listen.add_argument("--keep", action="store_true", help="keep the registered endpoint when stopping")
    listen.set_defaults(handler=cmd_listen)


def _stop_on_signals() -> None:
    """Ctrl-C (SIGINT) and SIGTERM stop the receiver (and so delete a registered endpoint). SIGINT is set here
    too: a process a shell starts in the background (`listen ... &`, a script under nohup) inherits SIGINT
    ignored, and Python then never raises KeyboardInterrupt for it."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def _verifier(secret: str | None, public_keys: list[str]) -> WebhookVerifier:
    try:
        return WebhookVerifier(secrets=[secret] if secret else [], public_keys=public_keys)
    except ConfigError as error:
        raise InputError(str(error)) from error


def _check_flags(args: argparse.Namespace, secret: str | None, api_key: str | None) -> None:
    if args.register and (not args.server or not api_key):
        raise InputError(f"--register needs --server URL and --api-key (or ${API_KEY_ENV}): a key with webhooks:manage")
    if args.register and secret:
        raise InputError("--register verifies with the new endpoint's own secret: leave out --secret")
    if not args.register and args.keep:
        raise InputError("--keep is for --register (it keeps the endpoint this run makes)")
    if not secret and not args.server:
        raise InputError(
            f"nothing to verify webhooks with: give --secret (or ${SECRET_ENV}), --server URL, or "
            "--register --server URL --api-key KEY"
        )
    if not 0 <= args.port <= 65535:
        raise InputError("--port is 0..65535")


def cmd_listen(args: argparse.Namespace) -> int:
    secret = args.secret or os.environ.get(SECRET_ENV) or None
    api_key = args.api_key or os.environ.get(API_KEY_ENV) or None
    _check_flags(args, secret, api_key)
    public_keys = fetch_public_keys(args.server) if args.server else []
    if public_keys:
        say(f"verifying v1a signatures with the installation's key from {args.server}")
    printing = threading.Lock()

    def show(received: Received) -> None:
        with printing:
            print(received.line(), flush=True)

    _stop_on_signals()
    client: BrandClient | None = None
    endpoint_id: str | None = None
    server: ReceiverServer | None = None
    try:
        receiver = WebhookReceiver(_verifier(secret, public_keys), on_event=show, path=args.path)
        server = ReceiverServer(receiver, port=args.port)  # bound: its URL is known, nothing served yet
        url = server.url
        if args.register:
            client = BrandClient(args.server, api_key or "")
            made = _register(client, url, args.events)
            endpoint_id = made.id
            receiver.use(_verifier(made.secret, public_keys))
            say(f"registered endpoint {made.id} for {', '.join(made.event_types)}; v1 verified with its secret")
        elif secret:
            say("verifying v1 signatures with the given secret")
        server.start()
        say(f"listening on {url} ; Ctrl-C to stop")
        while True:  # until Ctrl-C or SIGTERM (both raise KeyboardInterrupt here)
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.close()
        if client is not None:
            _unregister(client, endpoint_id, args.keep)
            client.close()
    say("stopped")
    return 0


def _register(client: BrandClient, url: str, events: list[str]) -> Any:
    try:
        return client.create_webhook_endpoint(url, sorted(set(events), key=EVENT_TYPES.index), DESCRIPTION)
    except RequestRefusedError as error:
        hint = ""
        if error.status in (400, 422) and "http" in error.problem.detail:
            hint = (
                " (a server in development allows http:// and loopback endpoints; one with CONSENT_ENV=production "
                "or CONSENT_WEBHOOK_DEV_DESTINATIONS=false refuses them)"
            )
        elif error.status in (401, 403):
            hint = " (make a key with webhooks:manage in the brand console, section API keys)"
        raise InputError(f"the server refused to register {url}: {error.problem.detail}{hint}") from error


def _unregister(client: BrandClient, endpoint_id: str | None, keep: bool) -> None:
    if endpoint_id is None:
        return
    if keep:
        say(f"kept endpoint {endpoint_id}; a later run verifies it with --server (v1a) or a rotated secret")
        return
    try:
        client.delete_webhook_endpoint(endpoint_id)
    except ClientError as error:
        say(f"could not delete endpoint {endpoint_id}: {error} (delete it in the brand console)")
        return
    say(f"deleted endpoint {endpoint_id}")
