"""One background loop for the serving process's workers (relayer, anchorer, indexer).

`step()` runs in a daemon thread; it returns True while it has more to do (the loop runs again at
once) and False when idle (the loop waits `interval`). An exception is logged and the loop goes
on: each worker keeps its own state consistent with the database, so the next round retries.

With a `guard` (a lease), the loop leads its job only while it holds the lease: a heartbeat thread
takes or renews it every third of its term, and `step()` runs only while it is held. Replicas that
do not hold it keep trying, so when the leader dies another takes over within about one term.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from consent_ledger.errors import LedgerError
from consent_ledger.redaction import redact_text

log = logging.getLogger(__name__)


class Guard(Protocol):
    """What the loop needs of a lease (consent_ledger.leases.Lease)."""

    ttl: float

    @property
    def held(self) -> bool: ...

    def try_hold(self) -> bool: ...

    def release(self) -> None: ...


class BackgroundLoop:
    def __init__(self, name: str, step: Callable[[], bool], guard: Guard | None = None) -> None:
        self.name = name
        self._step = step
        self.guard = guard
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._heartbeat: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        """True once stop() was called, or the lease was lost: long steps check it between units of work."""
        lost = self.running and self.guard is not None and not self.guard.held
        return self._stop.is_set() or lost

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def leading(self) -> bool:
        """Whether this process runs the job now (always, without a guard)."""
        return self.running and (self.guard is None or self.guard.held)

    def start(self, interval: float) -> None:
        if self.running:
            return
        self._stop.clear()
        if self.guard is not None:
            self._heartbeat = threading.Thread(target=self._beat, name=f"{self.name}-lease", daemon=True)
            self._heartbeat.start()
        self._thread = threading.Thread(target=self._run, args=(interval,), name=self.name, daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        guard = self.guard
        assert guard is not None  # noqa: S101 -- only started with a guard
        while not self._stop.is_set():
            guard.try_hold()
            self._stop.wait(guard.ttl / 3)

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            if self.guard is not None and not self.guard.held:
                self._stop.wait(min(interval, self.guard.ttl / 6))
                continue
            busy = False
            try:
                busy = self._step()
            except LedgerError as error:
                log.warning("%s: %s (will retry)", self.name, redact_text(str(error)))
            except Exception:  # keep the worker alive; its state is in the database
                log.exception("%s: unexpected error", self.name)
            if not busy:
                self._stop.wait(interval)

    def wait(self, timeout: float | None = None) -> None:
        """Block until stopped (for a foreground `--follow` command)."""
        self._stop.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in (self._thread, self._heartbeat):
            if thread is not None:
                thread.join(timeout)
        if self._thread is not None and not self._thread.is_alive():
            self._thread = None
        if self._heartbeat is not None and not self._heartbeat.is_alive():
            self._heartbeat = None
        if self.guard is not None:
            self.guard.release()
