"""A small webhook receiver for brands: verify, refuse replays, acknowledge (the part of `consent-ledger
webhook listen` a brand's own server can reuse).

`WebhookReceiver.handle(method, path, body, headers)` decides the answer to one request without any
socket: a request that fails `WebhookVerifier` (missing or malformed headers, a timestamp outside the
tolerance, a signature not made with the trusted secret or key, a body that is not an event) is refused
with 400; a captured request sent again (the same `webhook-id` with the same `webhook-timestamp`, so
the same signatures) is refused with 409; anything but a POST of at most `max_body` bytes to the
receiver's path is refused with 405, 404, 411 or 413. Every refusal is a problem+json body and changes
nothing. A verified webhook is answered 200 with the acknowledgement Consent Ledger reads from the body,
`{"ack": "stopped_processing"}` for a revocation or an expiry, `{"ack": "deleted"}` for an erasure and
`{"ack": "received"}` for the rest.

A redelivery (the same `webhook-id`, signed again at a later `webhook-timestamp`, as the sender does
when an earlier answer did not reach it) is answered 200 with the same acknowledgement but marked
`duplicate`, so the event is acted on once: refusing it would make the sender retry it for days.

`ReceiverServer` serves a receiver over HTTP/1.1 on a loopback address (stdlib `http.server`, a thread
per connection) and hands each verified event to a callback.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from pydantic import ValidationError

from consent_ledger.apimodels.webhooks import WebhookKeys
from consent_ledger.client import routes
from consent_ledger.client.errors import ServiceFailedError, WebhookRejectedError
from consent_ledger.client.webhooks import DEFAULT_TOLERANCE, VerifiedWebhook, WebhookVerifier
from consent_ledger.errors import ConfigError

MAX_BODY = 256 * 1024
MAX_REMEMBERED = 100_000
STOPPED_PROCESSING = "stopped_processing"
DELETED = "deleted"
RECEIVED = "received"
ACKNOWLEDGEMENTS = {
    "consent.revoked": STOPPED_PROCESSING,
    "consent.expired": STOPPED_PROCESSING,
    "data.erased": DELETED,
}
PROBLEM = "application/problem+json"


def acknowledgement(event_type: str) -> str:
    """What a receiver answers for an event of this type (INTERFACES-11: the 2xx body's `ack`)."""
    return ACKNOWLEDGEMENTS.get(event_type, RECEIVED)


@dataclass(frozen=True, slots=True)
class Received:
    """A verified webhook, the acknowledgement sent for it, whether its id was seen before, and when it
    arrived (wall-clock seconds)."""

    webhook: VerifiedWebhook
    ack: str
    duplicate: bool
    received_at: float

    def line(self) -> str:
        """One readable line: type, customer, brand, when it happened, the event id, the answer."""
        data = self.webhook.event.data
        again = " (again: a redelivery, acted on once)" if self.duplicate else ""
        return (
            f"{self.webhook.event.type}  customer {data.customer}  brand {data.brand}  "
            f"occurred_at {data.occurred_at}  id {data.event_id}  -> ack {self.ack}{again}"
        )


@dataclass(frozen=True, slots=True)
class Answer:
    """The HTTP answer to one request: status, content type and body."""

    status: int
    body: bytes
    content_type: str = "application/json"

    @classmethod
    def problem(cls, status: int, title: str, detail: str) -> Answer:
        document = {"type": "about:blank", "title": title, "status": status, "detail": detail}
        return cls(status, json.dumps(document).encode(), PROBLEM)


class _Seen:
    """The webhook ids seen (oldest forgotten first beyond `limit`) and, per id, the timestamps of the
    deliveries within the tolerance (an older one is refused by the verifier anyway)."""

    def __init__(self, tolerance_s: int, limit: int) -> None:
        self._tolerance = tolerance_s
        self._limit = limit
        self._ids: OrderedDict[str, list[int]] = OrderedDict()
        self._lock = threading.Lock()

    def note(self, webhook_id: str, timestamp: int, now: float) -> tuple[bool, bool]:
        """(replayed, duplicate): the same id and timestamp came before; the id came before."""
        with self._lock:
            stamps = self._ids.get(webhook_id)
            if stamps is None:
                self._ids[webhook_id] = [timestamp]
                while len(self._ids) > self._limit:
                    self._ids.popitem(last=False)
                return False, False
            if timestamp in stamps:
                return True, True
            stamps[:] = [s for s in stamps if s >= now - self._tolerance] + [timestamp]
            self._ids.move_to_end(webhook_id)
            return False, True


class WebhookReceiver:
    """Answers webhook requests to `path`: verified ones 200 with the acknowledgement (and passed to
    `on_event`), the rest 4xx (see the module's docstring)."""

    def __init__(
        self,
        verifier: WebhookVerifier | None,
        *,
        on_event: Callable[[Received], None] | None = None,
        path: str = "/",
        max_body: int = MAX_BODY,
        tolerance_s: int = int(DEFAULT_TOLERANCE.total_seconds()),
        remember: int = MAX_REMEMBERED,
    ) -> None:
        if not path.startswith("/"):
            raise ConfigError("a receiver's path starts with /")
        self._verifier = verifier
        self._on_event = on_event
        self._path = path
        self._max_body = max_body
        self._seen = _Seen(tolerance_s, remember)

    def use(self, verifier: WebhookVerifier) -> None:
        """Check requests with `verifier` from now on (a registered endpoint's secret exists only once the
        receiver's URL is known). Until a receiver has a verifier it answers 503."""
        self._verifier = verifier

    @property
    def path(self) -> str:
        return self._path

    @property
    def max_body(self) -> int:
        return self._max_body

    def handle(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        if path.split("?", 1)[0] != self._path:
            return Answer.problem(404, "Not Found", f"webhooks are received at {self._path}")
        if method != "POST":
            return Answer.problem(405, "Method Not Allowed", "webhooks are POSTed")
        if len(body) > self._max_body:
            return Answer.problem(413, "Content Too Large", f"a webhook body has at most {self._max_body} bytes")
        verifier = self._verifier
        if verifier is None:
            return Answer.problem(503, "Service Unavailable", "the receiver is not ready: nothing to verify with yet")
        try:
            webhook = verifier.verify(body, headers)
        except WebhookRejectedError as error:
            return Answer.problem(400, "Webhook Rejected", str(error))
        now = time.time()
        replayed, duplicate = self._seen.note(webhook.id, int(webhook.timestamp.timestamp()), now)
        if replayed:
            return Answer.problem(
                409, "Webhook Replayed", "this exact webhook (id and timestamp) was received already: a replay"
            )
        ack = acknowledgement(webhook.event.type)
        if self._on_event is not None:
            self._on_event(Received(webhook, ack, duplicate, now))
        return Answer(200, json.dumps({"ack": ack}).encode())


class ReceiverServer:
    """`receiver` served on `host`:`port` (a loopback address; port 0 picks a free one) from `start` until
    `close`. The port is bound (and `url` known) at construction; requests wait until `start`."""

    def __init__(self, receiver: WebhookReceiver, host: str = "127.0.0.1", port: int = 0) -> None:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ConfigError(f"the receiver binds a loopback address (127.0.0.1 or ::1), not {host!r}")
        handler = _handler(receiver)
        server_class = _IPv6Server if ":" in host else ThreadingHTTPServer
        try:
            self._server = server_class((host, port), handler)
        except OSError as error:
            raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror or error}") from error
        self._server.daemon_threads = True
        self._receiver = receiver
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else host
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{port}{self._receiver.path}"

    def start(self) -> ReceiverServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(10)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> ReceiverServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def _handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: a sender reuses its connection
        # The status line and headers, then the body, are two writes: with Nagle's algorithm the second
        # waits for the sender's delayed ACK (~40 ms) on a kept-alive connection.
        disable_nagle_algorithm = True
        server_version = "consent-ledger-webhook-listen"
        sys_version = ""

        def do_POST(self) -> None:
            self._answer("POST")

        def do_GET(self) -> None:
            self._answer("GET")

        def do_PUT(self) -> None:
            self._answer("PUT")

        def _answer(self, method: str) -> None:
            length_text = self.headers.get("Content-Length")
            if self.headers.get("Transfer-Encoding") or (method == "POST" and length_text is None):
                self._send(Answer.problem(411, "Length Required", "send the webhook with a Content-Length"), True)
                return
            try:
                length = int(length_text or "0")
            except ValueError:
                length = -1
            if length < 0:
                self._send(Answer.problem(400, "Bad Request", "Content-Length is not a number"), True)
                return
            if length > receiver.max_body:
                self._send(Answer.problem(413, "Content Too Large", f"at most {receiver.max_body} bytes"), True)
                return
            body = self.rfile.read(length)
            self._send(receiver.handle(method, self.path, body, dict(self.headers.items())), False)

        def _send(self, answer: Answer, close: bool) -> None:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: the receiver's caller prints what it wants of each event."""

    return Handler


def fetch_public_keys(server: str, *, timeout: float = 10.0, transport: httpx.BaseTransport | None = None) -> list[str]:
    """The installation's webhook public keys (`whpk_...`) from `server`'s well-known URL (no API key
    needed); `ServiceFailedError` if it cannot be read."""
    where = server.rstrip("/") + routes.WEBHOOK_KEYS.path
    try:
        with httpx.Client(timeout=timeout, transport=transport, follow_redirects=False) as http:
            reply = http.get(where, headers={"Accept": "application/json"})
    except httpx.HTTPError as error:
        raise ServiceFailedError(
            f"GET {routes.WEBHOOK_KEYS.path}: no answer from the server ({type(error).__name__})"
        ) from error
    if reply.status_code != routes.WEBHOOK_KEYS.status:
        raise ServiceFailedError(f"GET {routes.WEBHOOK_KEYS.path} answered {reply.status_code}: is it Consent Ledger?")
    try:
        keys = WebhookKeys.model_validate_json(reply.content)
    except ValidationError as error:
        raise ServiceFailedError(f"GET {routes.WEBHOOK_KEYS.path}: the reply does not match the API") from error
    found = [key.public_key for key in keys.keys if key.alg == "ed25519"]
    if not found:
        raise ServiceFailedError(f"GET {routes.WEBHOOK_KEYS.path} lists no ed25519 key")
    return found
