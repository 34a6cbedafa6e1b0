"""Idle kept-alive webhook connections, per pinned destination.

A connection is filed under its `Pin`: scheme, the resolved address and port it is connected to, and the host
name it sends (Host; over TLS, SNI and the certificate check). An attempt takes one only for the pin its own
destination check just resolved, so a reused connection never goes anywhere the check did not allow. A
connection idle for longer than `idle_s`, or one the receiver has closed or written to while idle (the socket
is readable), is closed instead of reused; every `idle_s` those idle too long to any pin are closed. At most
`per_pin` idle connections are kept per pin; the rest are closed.
"""

from __future__ import annotations

import contextlib
import http.client
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

IDLE_S = 4.0  # below the idle timeout of common servers (nginx 75 s, Node.js 5 s)
PER_PIN = 8


@dataclass(frozen=True, slots=True)
class Pin:
    scheme: str
    address: str
    port: int
    host: str


def _quiet(connection: http.client.HTTPConnection) -> bool:
    """Whether the idle connection's socket has nothing to read: a closed or chatty receiver does."""
    sock = connection.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


class Connections:
    def __init__(
        self, idle_s: float = IDLE_S, per_pin: int = PER_PIN, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self._idle_s = idle_s
        self._per_pin = per_pin
        self._idle: dict[Pin, list[tuple[float, http.client.HTTPConnection]]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._swept = self._clock()

    def take(self, pin: Pin) -> http.client.HTTPConnection | None:
        """An idle connection to `pin` that can be used now (the caller owns it), or None."""
        now = self._clock()
        stale: list[http.client.HTTPConnection] = []
        found = None
        with self._lock:
            kept = self._idle.get(pin, [])
            while kept and found is None:
                since, connection = kept.pop()
                if now - since <= self._idle_s and _quiet(connection):
                    found = connection
                else:
                    stale.append(connection)
            if not kept:
                self._idle.pop(pin, None)
        for connection in stale:
            connection.close()
        return found

    def give(self, pin: Pin, connection: http.client.HTTPConnection) -> None:
        """File a connection whose last answer was read whole and that the receiver keeps open. Connections
        idle too long to any pin are closed now and then, so endpoints no longer sent to keep none open."""
        now = self._clock()
        expired: list[http.client.HTTPConnection] = []
        with self._lock:
            if now - self._swept >= self._idle_s:
                self._swept = now
                expired = self._expire(now)
            kept = self._idle.setdefault(pin, [])
            if len(kept) < self._per_pin and not self._closed:
                kept.append((now, connection))
            else:
                expired.append(connection)
        for stale in expired:
            stale.close()

    def _expire(self, now: float) -> list[http.client.HTTPConnection]:
        """Take out every connection idle for longer than `idle_s` (holding the lock)."""
        expired: list[http.client.HTTPConnection] = []
        for pin in list(self._idle):
            kept = self._idle[pin]
            expired.extend(c for since, c in kept if now - since > self._idle_s)
            kept[:] = [(since, c) for since, c in kept if now - since <= self._idle_s]
            if not kept:
                del self._idle[pin]
        return expired

    def idle(self) -> int:
        with self._lock:
            return sum(len(kept) for kept in self._idle.values())

    def close(self) -> None:
        """Close the idle connections; one given back later is closed too."""
        with self._lock:
            self._closed = True
            kept, self._idle = self._idle, {}
        for connections in kept.values():
            for _, connection in connections:
                with contextlib.suppress(OSError):
                    connection.close()
