"""One webhook attempt over HTTP: POST the signed body to the one address the destination check chose.

The connection goes to the resolved address (never a second DNS answer), sending Host (and, over TLS, SNI
and the certificate check) for the URL's host. A connection must open within the connect timeout and the
whole attempt end within the total timeout: a timer closes the socket at the deadline, so a receiver
that trickles its answer byte by byte cannot hold a worker longer. Redirects are not followed (a 3xx is a
failed attempt), and at most `max_bytes` of the answer are read: a receiver sending megabytes costs
the worker no more than that. Any 2xx is delivered; a JSON body {"ack": "..."} in it is the receiver's
acknowledgement.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping

from consent_ledger.errors import InputError
from consent_ledger.webhooks.destinations import ResolvedDestination, resolve_destination
from consent_ledger.webhooks.outbox import ACKS, Outcome

MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "consent-ledger-webhooks/1"

Resolve = Callable[[str], ResolvedDestination]


class _PinnedHttps(http.client.HTTPConnection):
    """HTTPS to a fixed address, with SNI and the certificate checked for `server_name`."""

    default_port = http.client.HTTPS_PORT

    def __init__(self, address: str, port: int, server_name: str, timeout: float) -> None:
        super().__init__(address, port, timeout=timeout)
        self._server_name = server_name
        self._tls = ssl.create_default_context()

    def connect(self) -> None:
        raw = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self._server_name)


def _connection(target: ResolvedDestination, timeout: float) -> http.client.HTTPConnection:
    if target.destination.scheme == "https":
        return _PinnedHttps(target.address, target.port, target.host, timeout)
    return http.client.HTTPConnection(target.address, target.port, timeout=timeout)


def parse_ack(body: bytes) -> str | None:
    """The acknowledgement in a 2xx body ({"ack": "stopped_processing" | "deleted" | "received"}), or None."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    ack = document.get("ack") if isinstance(document, dict) else None
    return ack if isinstance(ack, str) and ack in ACKS else None


def post(
    target: ResolvedDestination,
    body: bytes,
    headers: Mapping[str, str],
    *,
    connect_timeout: float,
    total_timeout: float,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> Outcome:
    """One POST; never raises for what the receiver or the network does (the outcome says)."""
    started = time.monotonic()
    connection = _connection(target, min(connect_timeout, total_timeout))
    expired = threading.Event()

    def cut() -> None:
        expired.set()
        sock = connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(total_timeout, cut)
    timer.daemon = True
    timer.start()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        connection.connect()
        if connection.sock is not None:
            connection.sock.settimeout(max(0.01, total_timeout - (time.monotonic() - started)))
        connection.putrequest("POST", target.destination.target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", target.host_header)
        connection.putheader("Content-Type", "application/json")
        connection.putheader("User-Agent", USER_AGENT)
        connection.putheader("Content-Length", str(len(body)))
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        reply = connection.getresponse()
        status = reply.status
        answer = reply.read(max_bytes)
        if 300 <= status < 400:
            return Outcome(status, took(), f"redirect to {reply.getheader('Location', '?')[:200]!s} not followed")
        if 200 <= status < 300:
            return Outcome(status, took(), None, parse_ack(answer) if len(answer) < max_bytes else None)
        return Outcome(status, took(), f"HTTP {status}")
    except (OSError, http.client.HTTPException, ValueError) as error:
        if expired.is_set():
            return Outcome(None, took(), f"no complete answer within {total_timeout:g} s")
        if isinstance(error, TimeoutError | socket.timeout):
            return Outcome(None, took(), f"timed out ({type(error).__name__})")
        return Outcome(None, took(), f"{type(error).__name__}: {str(error)[:200]}")
    finally:
        timer.cancel()
        connection.close()


def attempt(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    allow_private: bool,
    connect_timeout: float,
    total_timeout: float,
    resolve: Resolve | None = None,
) -> Outcome:
    """Check and resolve `url` (the SSRF guard, again at every attempt), then POST."""
    started = time.monotonic()
    try:
        target = resolve(url) if resolve is not None else resolve_destination(url, allow_private=allow_private)
    except InputError as refused:
        return Outcome(None, int((time.monotonic() - started) * 1000), f"destination refused: {refused}")
    return post(target, body, headers, connect_timeout=connect_timeout, total_timeout=total_timeout)
