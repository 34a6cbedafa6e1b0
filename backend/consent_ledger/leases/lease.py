"""One process's hold on one job: try to take or renew it, and know locally whether it still holds.

`try_hold()` asks the database (take or renew); `held` answers from the last renewal, with a margin,
without a round trip, so a worker can check it before every unit of work. A worker that stalls
past its lease (a paused process) finds `held` False when it wakes, and stops.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from consent_ledger.leases.store import LeaseStore

log = logging.getLogger(__name__)
MARGIN = 0.2  # stop trusting a lease this share of its term before it expires


def replica_id() -> str:
    """A name for this process that no other process shares: host, pid and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    def __init__(
        self,
        store: LeaseStore,
        name: str,
        holder: str,
        ttl: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0:
            raise ValueError("a lease needs a positive term")
        self.store = store
        self.name = name
        self.holder = holder
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._valid_until = 0.0
        self.term: int | None = None

    @property
    def held(self) -> bool:
        with self._lock:
            return self._clock() < self._valid_until

    def try_hold(self) -> bool:
        """Take or renew the lease; False when another replica holds it or the database cannot answer."""
        started = self._clock()
        try:
            term = self.store.acquire(self.name, self.holder, self.ttl)
        except SQLAlchemyError as error:
            log.warning("lease %s: the database did not answer (%s); not leading", self.name, type(error).__name__)
            term = None
        with self._lock:
            if term is None:
                self._valid_until = 0.0
            else:
                if self.term != term:
                    log.info("lease %s: %s leads (term %d)", self.name, self.holder, term)
                self._valid_until = started + self.ttl * (1 - MARGIN)
            self.term = term
        return term is not None

    def release(self) -> None:
        with self._lock:
            was_held = self._valid_until > 0
            self._valid_until = 0.0
            self.term = None
        if was_held:
            try:
                self.store.release(self.name, self.holder)
            except SQLAlchemyError as error:
                log.warning("lease %s: could not release (%s); it expires by itself", self.name, type(error).__name__)
