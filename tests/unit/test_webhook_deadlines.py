"""The webhook deadline watchdog: an armed action runs once its time comes, a disarmed one never does, and
an action that raises does not stop the ones after it."""

from __future__ import annotations

import threading
import time

from consent_ledger.webhooks.deadlines import Deadlines


def test_armed_actions_run_in_time_order_and_disarmed_ones_never() -> None:
    deadlines = Deadlines()
    ran: list[str] = []
    last = threading.Event()
    start = time.monotonic()

    def note(name: str) -> None:
        ran.append(name)

    def broken() -> None:
        raise RuntimeError("an action that fails")

    deadlines.arm(start + 0.02, lambda: note("second"))
    deadlines.arm(start + 0.01, lambda: note("first"))
    deadlines.arm(start + 0.015, broken)
    dropped = deadlines.arm(start + 0.03, lambda: note("disarmed"))
    deadlines.disarm(dropped)
    deadlines.arm(start + 0.05, last.set)
    assert last.wait(30)
    assert ran == ["first", "second"]
    assert time.monotonic() >= start + 0.05  # nothing ran early
