"""Anchor the access log's root on-chain: every N leaves or T seconds, and on demand.

Each anchor is the custodian's own transaction `anchor(root, size)` (the custodian is the relayer's
key, so one writer per key); its tx hash and block are kept with it. A tree head is therefore
signed by the custodian's key and timestamped by the chain.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from consent_ledger.audit.log import AccessLog, Anchor
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.tx import TxSender
from consent_ledger.errors import LedgerError

log = logging.getLogger(__name__)


class Anchorer:
    def __init__(
        self,
        access_log: AccessLog,
        ledger: Ledger,
        sender: TxSender,
        every_leaves: int = 100,
        every_seconds: float = 60,
    ) -> None:
        self.log = access_log
        self.ledger = ledger
        self.sender = sender
        self.every_leaves = every_leaves
        self.every_seconds = every_seconds
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_attempt = time.monotonic()

    def anchor_now(self) -> Anchor | None:
        """Anchor the current size if it grew since the last anchor; returns the new anchor."""
        with self._lock:
            latest = self.log.latest_anchor()
            size = self.log.size
            if size == 0 or (latest is not None and latest.size >= size):
                return None
            root = self.log.tree.root(size)
            result = self.ledger.anchor(self.sender, root, size)
            block = self.ledger.rpc.get_block(result.receipt.block_number)
            anchor = Anchor(
                size=size,
                root="0x" + root.hex(),
                custodian=self.sender.address,
                tx_hash=result.receipt.tx_hash,
                block_number=result.receipt.block_number,
                block_hash=result.receipt.block_hash,
                anchored_at=datetime.fromtimestamp(int(block["timestamp"], 16), UTC),
            )
            self.log.record_anchor(anchor)
            return anchor

    def due(self) -> bool:
        latest = self.log.latest_anchor()
        pending = self.log.size - (latest.size if latest else 0)
        if pending <= 0:
            return False
        return pending >= self.every_leaves or time.monotonic() - self._last_attempt >= self.every_seconds

    def run_once(self) -> Anchor | None:
        if not self.due():
            return None
        self._last_attempt = time.monotonic()
        return self.anchor_now()

    def start(self, interval: float = 1.0) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, args=(interval,), name="anchorer", daemon=True)
        self._thread.start()

    def _loop(self, interval: float) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except LedgerError as error:
                log.warning("anchoring failed, will retry: %s", error)
            except Exception:  # keep the loop alive; the next round retries
                log.exception("anchoring: unexpected error")
            self._stop.wait(interval)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
