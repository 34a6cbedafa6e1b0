"""One webhook attempt over HTTP: POST the signed body to the one address the destination check chose.

The connection goes to the resolved address (never a second DNS answer), sending Host (and, over TLS, SNI and
the certificate check) for the URL's host; it is kept alive for the next attempt to that same address and host
(webhooks.connections). A connection must open within the connect timeout and the whole attempt end within the
total timeout: a watchdog (webhooks.deadlines) closes the socket at the deadline, so a receiver that trickles
its answer byte by byte cannot hold a worker longer. Redirects are not followed (a 3xx is a failed attempt),
and at most `max_bytes` of the answer are read: a receiver sending megabytes costs the worker no more than
that. Any 2xx is delivered; a JSON body {"ack": "..."} in it is the receiver's acknowledgement.
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
from consent_ledger.json_depth import too_deep
from consent_ledger.webhooks.claims import ACKS, Outcome
from consent_ledger.webhooks.connections import Connections, Pin
from consent_ledger.webhooks.deadlines import Deadlines
from consent_ledger.webhooks.destinations import ResolvedDestination, resolve_destination

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
    """The acknowledgement in a 2xx body ({"ack": "stopped_processing" | "deleted" | "received"}), or None.
    The nesting is checked before parsing: a receiver's deeply nested answer must not overflow the stack."""
    if too_deep(body):
        return None
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    ack = document.get("ack") if isinstance(document, dict) else None
    return ack if isinstance(ack, str) and ack in ACKS else None


class Sender:
    """Makes attempts: the destination check (the SSRF guard) again at every attempt, then one POST over
    an idle kept-alive connection to the very address that check resolved, or a new connection. The
    deadline of each attempt is enforced by one shared watchdog (`Deadlines`) instead of a timer thread
    per attempt. A connection is kept for the next attempt only when its answer was read whole within the
    caps and the receiver keeps it open; any error, the deadline, a `Connection: close` or an answer of
    `max_bytes` or more closes it. A kept connection the receiver closed before answering is replaced by a
    new one once, within the same attempt's deadline (the receiver may have seen that request: delivery is
    at least once)."""

    def __init__(
        self,
        *,
        allow_private: bool,
        connect_timeout: float,
        total_timeout: float,
        resolve: Resolve | None = None,
        max_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.allow_private = allow_private
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self.max_bytes = max_bytes
        self._resolve = resolve
        self.connections = Connections()
        self._deadlines = Deadlines()

    def attempt(self, url: str, body: bytes, headers: Mapping[str, str]) -> Outcome:
        """Check and resolve `url`, then POST; never raises for what the receiver or the network does."""
        started = time.monotonic()
        try:
            if self._resolve is not None:
                target = self._resolve(url)
            else:
                target = resolve_destination(url, allow_private=self.allow_private)
        except InputError as refused:
            return Outcome(None, int((time.monotonic() - started) * 1000), f"destination refused: {refused}")
        return self.post(target, body, headers)

    def post(self, target: ResolvedDestination, body: bytes, headers: Mapping[str, str]) -> Outcome:
        """One POST to `target` within the caps (the outcome says what happened)."""
        started = time.monotonic()
        pin = Pin(target.destination.scheme, target.address, target.port, target.host)
        kept = self.connections.take(pin)
        if kept is not None:
            outcome = self._exchange(kept, pin, target, body, headers, started, reused=True)
            if outcome is not None:
                return outcome
        fresh = _connection(target, min(self.connect_timeout, self.total_timeout))
        outcome = self._exchange(fresh, pin, target, body, headers, started, reused=False)
        assert outcome is not None  # noqa: S101 -- only a reused connection gives None
        return outcome

    def _exchange(
        self,
        connection: http.client.HTTPConnection,
        pin: Pin,
        target: ResolvedDestination,
        body: bytes,
        headers: Mapping[str, str],
        started: float,
        *,
        reused: bool,
    ) -> Outcome | None:
        """The request on `connection`; None when a reused connection turned out closed by the receiver
        before any answer (the caller tries a new one)."""
        expired = threading.Event()

        def cut() -> None:
            expired.set()
            sock = connection.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

        def took() -> int:
            return int((time.monotonic() - started) * 1000)

        total = self.total_timeout
        handle = self._deadlines.arm(started + total, cut)
        keep = False
        try:
            if connection.sock is None:
                connection.connect()
            if connection.sock is not None:
                connection.sock.settimeout(max(0.01, total - (time.monotonic() - started)))
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
            answer = reply.read(self.max_bytes)
            keep = reply.isclosed() and not reply.will_close and len(answer) < self.max_bytes
            if 300 <= status < 400:
                return Outcome(status, took(), f"redirect to {reply.getheader('Location', '?')[:200]!s} not followed")
            if 200 <= status < 300:
                return Outcome(status, took(), None, parse_ack(answer) if len(answer) < self.max_bytes else None)
            return Outcome(status, took(), f"HTTP {status}")
        except (OSError, http.client.HTTPException, ValueError) as error:
            keep = False
            if expired.is_set():
                return Outcome(None, took(), f"no complete answer within {total:g} s")
            if reused and isinstance(error, _CLOSED_WHILE_IDLE):
                return None
            if isinstance(error, TimeoutError | socket.timeout):
                return Outcome(None, took(), f"timed out ({type(error).__name__})")
            return Outcome(None, took(), f"{type(error).__name__}: {str(error)[:200]}")
        finally:
            self._deadlines.disarm(handle)
            if keep and not expired.is_set() and connection.sock is not None:
                self.connections.give(pin, connection)
            else:
                connection.close()


_CLOSED_WHILE_IDLE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)
