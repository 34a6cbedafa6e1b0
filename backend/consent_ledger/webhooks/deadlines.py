"""One watchdog thread for every webhook attempt's deadline, instead of a timer thread per attempt.

`arm(at, action)` runs `action` once the monotonic clock reaches `at`, unless `disarm` came first. The
actions are short (closing a socket) and run on the watchdog's thread; an action that raises is logged
and the others still run. The thread starts with an `arm` and ends when nothing is armed.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Deadlines:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int]] = []
        self._actions: dict[int, Callable[[], None]] = {}
        self._numbers = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def arm(self, at: float, action: Callable[[], None]) -> int:
        """Run `action` at monotonic time `at`; returns the handle `disarm` takes."""
        with self._wake:
            handle = next(self._numbers)
            self._actions[handle] = action
            heapq.heappush(self._heap, (at, handle))
            if self._thread is None:  # none running: nothing was armed
                self._thread = threading.Thread(target=self._run, name="webhook-deadlines", daemon=True)
                self._thread.start()
            if self._heap[0][1] == handle:
                self._wake.notify()
        return handle

    def disarm(self, handle: int) -> None:
        """Forget the action (it has run already, or never will); its heap entry is dropped when due."""
        with self._wake:
            self._actions.pop(handle, None)

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._heap and self._heap[0][0] > time.monotonic():
                    if self._heap[0][1] not in self._actions:  # disarmed: drop it now, not when due
                        heapq.heappop(self._heap)
                        continue
                    self._wake.wait(self._heap[0][0] - time.monotonic())
                if not self._heap:
                    self._thread = None
                    return
                _, handle = heapq.heappop(self._heap)
                action = self._actions.pop(handle, None)
            if action is not None:
                try:
                    action()
                except Exception:  # one failing action must not end the watchdog
                    log.exception("webhooks: a deadline action failed")
