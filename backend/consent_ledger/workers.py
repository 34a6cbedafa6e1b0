"""One background loop for the serving process's workers (relayer, anchorer, indexer).

`step()` runs in a daemon thread; it returns True while it has more to do (the loop runs again at
once) and False when idle (the loop waits `interval`). An exception is logged and the loop goes
on: each worker keeps its own state consistent with the database, so the next round retries.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from consent_ledger.errors import LedgerError
from consent_ledger.redaction import redact_text

log = logging.getLogger(__name__)


class BackgroundLoop:
    def __init__(self, name: str, step: Callable[[], bool]) -> None:
        self.name = name
        self._step = step
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        """True once stop() was called: long steps check it between units of work."""
        return self._stop.is_set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, interval: float) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(interval,), name=self.name, daemon=True)
        self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
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
        if self._thread is not None:
            self._thread.join(timeout)
            if not self._thread.is_alive():
                self._thread = None
