"""A real HTTP receiver on loopback for webhook tests: every request is kept (path, headers, body, in
order of arrival); what each path answers is set by the test (a status and body, a sequence of them, a
hang until released, a huge body, or a redirect)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from waiting import patient


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


Answer = tuple[int, bytes]


@dataclass
class Receiver:
    port: int
    received: list[Received] = field(default_factory=list)
    answers: dict[str, list[Answer]] = field(default_factory=dict)
    hang: dict[str, threading.Event] = field(default_factory=dict)
    huge: dict[str, int] = field(default_factory=dict)  # path -> bytes to send in a 200 answer
    redirects: dict[str, str] = field(default_factory=dict)  # path -> Location of a 307 answer
    sent: list[int] = field(default_factory=list)  # bytes written of each huge answer, when it ended
    finished: list[str] = field(default_factory=list)  # paths, in the order their answers ended
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, *answers: Answer) -> None:
        """Answer `path` with these in turn, the last one from then on (default: 200, empty)."""
        self.answers[path] = list(answers)

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait(self, path: str, count: int = 1, timeout: float = 60.0) -> list[Received]:
        wait_for(f"{count} webhook(s) at {path}", lambda: len(self.at(path)) >= count, timeout)
        return self.at(path)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with receiver.lock:
                receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                queue = receiver.answers.get(self.path, [])
                status, reply = queue.pop(0) if len(queue) > 1 else (queue[0] if queue else (200, b""))
            gate = receiver.hang.get(self.path)
            if gate is not None:
                gate.wait(120)
            size = receiver.huge.get(self.path)
            try:
                if size is not None:
                    self._huge(size)
                elif self.path in receiver.redirects:
                    self.send_response(307)
                    self.send_header("Location", receiver.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
            except OSError:
                pass  # the sender hung up (as it should on a huge answer)
            finally:
                with receiver.lock:
                    receiver.finished.append(self.path)

        def _huge(self, size: int) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk, written = b" " * 65_536, 0
            try:
                for _ in range(size // len(chunk)):
                    self.wfile.write(chunk)
                    written += len(chunk)
            finally:
                with receiver.lock:
                    receiver.sent.append(written)

    return Handler


@contextmanager
def receiver() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Receiver(0)))
    state = Receiver(server.server_address[1])
    server.RequestHandlerClass = _handler(state)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        for gate in state.hang.values():
            gate.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


def ack(value: str) -> Answer:
    return 200, json.dumps({"ack": value}).encode()


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60.0, poll: float = 0.05) -> None:
    """Poll `check` (background work); the bound is generous and scaled by CONSENT_TEST_PATIENCE."""
    deadline = time.monotonic() + patient(timeout)
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")
