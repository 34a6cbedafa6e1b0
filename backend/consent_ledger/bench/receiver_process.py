"""The webhook bench's receiver in a process of its own, as a brand's receiver is: the real
`consent_ledger.client.receiver` (verifying every webhook's v1 and v1a signatures, answering the
acknowledgement), served on loopback by a spawned process, so its work does not share the server's
interpreter. Each verified webhook comes back to the bench as an `Arrival`, stamped in the receiver's
process when it was verified.

`start` gives the receiver's URL (its port is bound first), `trust` hands it the endpoints' secrets and the
installation's public keys once the endpoints exist (until then it answers 503), `close` stops it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.queues import Queue
from typing import Any

from consent_ledger.client import WebhookVerifier
from consent_ledger.client.receiver import Received, ReceiverServer, WebhookReceiver
from consent_ledger.errors import ConfigError

START_S = 60.0  # a spawned interpreter imports the package first


@dataclass(frozen=True, slots=True)
class Arrival:
    event_id: str
    customer: str
    duplicate: bool
    at: float  # wall-clock seconds, when the receiver had verified it


def _serve(path: str, control: Connection, arrivals: Queue[Arrival | None]) -> None:
    """The receiver process: bind, say where, wait for what to trust, serve until told to stop."""

    def arrived(received: Received) -> None:
        data = received.webhook.event.data
        arrivals.put(Arrival(data.event_id, data.customer, received.duplicate, received.received_at))

    receiver = WebhookReceiver(None, on_event=arrived, path=path)
    server = ReceiverServer(receiver).start()
    try:
        control.send(server.url)
        secrets, keys = control.recv()
        receiver.use(WebhookVerifier(secrets=secrets, public_keys=keys))
        control.send("trusted")
        control.recv()  # stop
    finally:
        server.close()
        arrivals.put(None)


class ReceiverProcess:
    def __init__(self, path: str, on_arrival: Callable[[Arrival], None]) -> None:
        context = multiprocessing.get_context("spawn")  # the bench has threads: no fork
        self._control, child = context.Pipe()
        self._arrivals: Queue[Arrival | None] = context.Queue()
        self._process = context.Process(
            target=_serve, args=(path, child, self._arrivals), name="bench-webhook-receiver", daemon=True
        )
        self._on_arrival = on_arrival
        self._reader = threading.Thread(target=self._read, name="bench-arrivals", daemon=True)

    def start(self) -> str:
        """Start the process; the receiver's URL."""
        self._process.start()
        self._reader.start()
        return str(self._answer())

    def trust(self, secrets: list[str], public_keys: list[str]) -> None:
        self._control.send((secrets, public_keys))
        self._answer()

    def close(self) -> None:
        if self._process.is_alive():
            with contextlib.suppress(OSError):
                self._control.send("stop")
            self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
        if self._reader.is_alive():
            self._arrivals.put(None)  # when the process did not get to say it ended
            self._reader.join(10)

    def _answer(self) -> Any:
        try:
            if self._control.poll(START_S):
                return self._control.recv()
        except (EOFError, OSError):
            pass
        raise ConfigError(
            "the bench's webhook receiver process did not answer (a script calling the bench needs an "
            "`if __name__ == '__main__':` guard: the process is spawned)"
        )

    def _read(self) -> None:
        while (arrival := self._arrivals.get()) is not None:
            self._on_arrival(arrival)
