"""How long tests wait, in one place, sized for a loaded 2-core CI machine.

Every bound here is the most a test waits for something that normally takes well under a second (a
server or node starting, a page updating, a background worker confirming): a passing test never waits
for it, so the bounds are generous, and nothing here measures speed. A process that died is noticed at
once and reported with its output, instead of being waited for until the bound.

CONSENT_TEST_PATIENCE (default 1) multiplies every bound, for machines slower still.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

PATIENCE = float(os.environ.get("CONSENT_TEST_PATIENCE", "1"))
START_TIMEOUT = 120.0 * PATIENCE  # s: a server or node process starting until it answers
UI_TIMEOUT_MS = round(20_000 * PATIENCE)  # ms: every Playwright action and expect() (Playwright's own default: 5 s)
BACKGROUND_TIMEOUT_MS = round(60_000 * PATIENCE)  # ms: pages waiting for relaying, mining and anchoring


def patient(seconds: float) -> float:
    """A test's own bound for background work (in seconds), scaled by CONSENT_TEST_PATIENCE."""
    return seconds * PATIENCE


class StartupError(AssertionError):
    """A process or server did not come up: it died, or did not answer in time. Carries its output."""


def wait_started(
    what: str,
    answers: Callable[[], bool],
    *,
    alive: Callable[[], bool],
    output: Callable[[], str],
    timeout: float = START_TIMEOUT,
    poll: float = 0.1,
) -> None:
    """Poll `answers()` until it is true. Fail at once when `alive()` turns false, or after `timeout`
    seconds; either way the failure shows `output()` (the process's log or captured errors)."""
    deadline = time.monotonic() + timeout
    while True:
        if not alive():
            raise StartupError(f"{what} died while starting:\n{output()}")
        if answers():
            return
        if time.monotonic() >= deadline:
            raise StartupError(f"{what} did not answer within {timeout:.0f} s (still running):\n{output()}")
        time.sleep(poll)
