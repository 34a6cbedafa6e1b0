"""Anchor the access log's root on-chain: every N leaves or T seconds, and on demand.

Each anchor is the custodian's own transaction `anchor(root, size)` (the custodian is the relayer's
key, so one writer per key); its tx hash and block are kept with it. A tree head is therefore
signed by the custodian's key and timestamped by the chain.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from consent_ledger.audit.log import AccessLog, Anchor
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.tx import TxSender
from consent_ledger.workers import BackgroundLoop


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
        self._loop = BackgroundLoop("anchorer", self._step)
        self._last_attempt = time.monotonic()

    def anchor_now(self) -> Anchor | None:
        """Anchor the current size if it grew since the last anchor; returns the new anchor."""
        with self._lock:
            latest = self.log.latest_anchor()
            head = self.log.head()
            size, root = head.size, head.root
            if size == 0 or (latest is not None and latest.size >= size):
                return None
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

    def _step(self) -> bool:
        self.run_once()
        return False  # one anchor per round at most; the loop then waits its interval

    def start(self, interval: float = 1.0) -> None:
        self._loop.start(interval)

    def stop(self, timeout: float = 10.0) -> None:
        self._loop.stop(timeout)
