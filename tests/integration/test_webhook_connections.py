"""Kept-alive webhook connections, against a real HTTP server on loopback: attempts to one receiver reuse one
connection; an answer with `Connection: close`, one of the size cap or more, or a receiver that closed the
idle connection means a new connection for the next attempt (which is still delivered); and a connection
is reused only for the same pin, so the same address under another host name gets a connection of its own;
connections left idle too long are closed.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from consent_ledger.webhooks.connections import Connections, Pin
from consent_ledger.webhooks.delivery import Sender
from consent_ledger.webhooks.destinations import ResolvedDestination, resolve_destination

CAP = 1024


@dataclass
class Seen:
    requests: list[tuple[str, int, str]] = field(default_factory=list)  # path, client port, Host
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ports(self) -> list[int]:
        with self.lock:
            return [port for _, port, _ in self.requests]


def _handler(seen: Seen) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with seen.lock:
                seen.requests.append((self.path, self.client_address[1], self.headers.get("Host", "")))
            body = b" " * CAP if self.path == "/big" else b'{"ack": "received"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            if self.path == "/close":
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            if self.path in ("/close", "/drop"):  # /drop: closed without a word, as an idle timeout does
                self.close_connection = True

    return Handler


@contextmanager
def _server() -> Iterator[tuple[int, Seen]]:
    seen = Seen()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(seen))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def _to_loopback(url: str) -> ResolvedDestination:
    """The destination check, with every host name resolving to 127.0.0.1."""
    return resolve_destination(url, allow_private=True, resolver=lambda _host, _port: ["127.0.0.1"])


def _sender() -> Sender:
    return Sender(allow_private=True, connect_timeout=2.0, total_timeout=10.0, resolve=_to_loopback, max_bytes=CAP)


def test_attempts_to_one_receiver_reuse_one_connection() -> None:
    sender = _sender()
    with _server() as (port, seen):
        for _ in range(3):
            assert sender.attempt(f"http://127.0.0.1:{port}/keep", b"{}", {}).delivered
        assert len(set(seen.ports())) == 1
        assert sender.connections.idle() == 1
    sender.connections.close()
    assert sender.connections.idle() == 0


def test_a_closing_or_oversized_answer_means_a_new_connection_next_time() -> None:
    sender = _sender()
    with _server() as (port, seen):
        for path in ("/close", "/keep", "/big", "/keep"):
            outcome = sender.attempt(f"http://127.0.0.1:{port}{path}", b"{}", {})
            assert outcome.delivered
        ports = seen.ports()
        assert ports[0] != ports[1]  # the receiver said Connection: close
        assert ports[2] == ports[1]  # kept
        assert ports[3] != ports[2]  # an answer of the cap was not read to its end: not kept
        assert sender.connections.idle() == 1


def test_a_connection_the_receiver_dropped_while_idle_is_replaced_and_the_attempt_delivered() -> None:
    sender = _sender()
    with _server() as (port, seen):
        assert sender.attempt(f"http://127.0.0.1:{port}/drop", b"{}", {}).delivered
        outcome = sender.attempt(f"http://127.0.0.1:{port}/keep", b"{}", {})
        assert outcome.delivered, outcome.error
        first, second = seen.ports()
        assert first != second


def test_a_connection_is_reused_only_for_the_same_address_and_host_name() -> None:
    sender = _sender()
    with _server() as (port, seen):
        assert sender.attempt(f"http://127.0.0.1:{port}/keep", b"{}", {}).delivered
        assert sender.attempt(f"http://hooks.test:{port}/keep", b"{}", {}).delivered  # the same address
        assert sender.attempt(f"http://hooks.test:{port}/keep", b"{}", {}).delivered
        with seen.lock:
            requests = list(seen.requests)
        assert [host for _, _, host in requests] == [f"127.0.0.1:{port}", f"hooks.test:{port}", f"hooks.test:{port}"]
        ports = [p for _, p, _ in requests]
        assert ports[0] != ports[1]
        assert ports[1] == ports[2]
        assert sender.connections.idle() == 2


def test_connections_left_idle_are_closed_when_another_is_given_back() -> None:
    now = [0.0]
    kept = Connections(idle_s=4.0, clock=lambda: now[0])
    with _server() as (port, _seen):
        old, new = http.client.HTTPConnection("127.0.0.1", port), http.client.HTTPConnection("127.0.0.1", port)
        old.connect()
        new.connect()
        kept.give(Pin("http", "127.0.0.1", port, "a.test"), old)
        now[0] = 5.0  # the first has been idle longer than idle_s, and no attempt to its pin came
        kept.give(Pin("http", "127.0.0.1", port, "b.test"), new)
        assert kept.idle() == 1
        assert old.sock is None  # closed
        assert new.sock is not None
        assert kept.take(Pin("http", "127.0.0.1", port, "a.test")) is None
    kept.close()
