"""Anchor the access log's root on-chain: every N leaves or T seconds, and on demand.

Each anchor is the custodian's own transaction `anchor(root, size)` (the custodian is the relayer's
key), sent through the durable sender: recorded before it leaves, re-broadcast or replaced with the
same nonce while it is pending, so a lost anchor never stalls the key. An anchor is stored once its
transaction is mined, from the chain's `Anchored` event, with its tx hash and block. A stored anchor
whose block left the chain (a reorg, a node restarted from an older state) is removed; its
transaction goes out again and the anchor is stored again when it is mined, and the next anchor
covers whatever is left. A tree head is therefore signed by the custodian's key and timestamped by
the chain, and no stored anchor names a block the chain does not have.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from consent_ledger.audit.log import AccessLog, Anchor
from consent_ledger.chain.events import Anchored, decode_logs
from consent_ledger.chain.ledger import Ledger
from consent_ledger.errors import TransactionFailedError
from consent_ledger.sender.durable import DurableSender
from consent_ledger.sender.records import Landed
from consent_ledger.workers import BackgroundLoop, Guard

log = logging.getLogger(__name__)
ANCHOR_GAS = 120_000  # measured ~50-75k (two fresh slots); unused gas is not charged


class Anchorer:
    def __init__(
        self,
        access_log: AccessLog,
        ledger: Ledger,
        sender: DurableSender,
        every_leaves: int = 100,
        every_seconds: float = 60,
        *,
        finality_blocks: int = 64,
        guard: Guard | None = None,
    ) -> None:
        self.log = access_log
        self.ledger = ledger
        self.sender = sender
        self.every_leaves = every_leaves
        self.every_seconds = every_seconds
        self.finality_blocks = finality_blocks
        self._lock = threading.Lock()
        self._loop = BackgroundLoop("anchorer", self._step, guard)
        self._last_attempt = time.monotonic()

    @property
    def custodian(self) -> str:
        return self.sender.address

    # ------------------------------------------------------------------ what the chain holds

    def _record(self, landed: Landed) -> Anchor | None:
        """Store the anchor a mined transaction made (from its `Anchored` event)."""
        receipt = landed.receipt
        if receipt is None or receipt.status != 1:
            return None
        for event in decode_logs(receipt.logs, self.ledger.address):
            if isinstance(event, Anchored) and event.custodian.lower() == self.custodian.lower():
                block = self.ledger.rpc.get_block(receipt.block_number)
                anchor = Anchor(
                    size=event.size,
                    root=event.root,
                    custodian=self.custodian,
                    tx_hash=receipt.tx_hash,
                    block_number=receipt.block_number,
                    block_hash=receipt.block_hash,
                    anchored_at=datetime.fromtimestamp(int(block["timestamp"], 16), UTC),
                )
                self.log.record_anchor(anchor)
                return anchor
        return None

    def recheck(self) -> int:
        """Stored anchors whose block left the chain are removed (see the module doc); returns how many."""
        for moved in self.sender.recheck_mined():
            if moved.receipt is not None:
                self._record(moved)  # re-mined in another block: store where it is now
        head = self.ledger.rpc.block_number()
        recent = self.log.anchors_above(head - self.finality_blocks)
        if not recent:
            return 0
        numbers = sorted({a.block_number for a in recent})
        headers = self.ledger.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        canonical = {n: str((h or {}).get("hash", "")).lower() for n, h in zip(numbers, headers, strict=True)}
        removed = 0
        for anchor in recent:
            if canonical[anchor.block_number] != anchor.block_hash.lower() and self.log.remove_anchor(anchor):
                log.warning(
                    "anchorer: the anchor of size %d left the chain with block %d", anchor.size, anchor.block_number
                )
                removed += 1
        return removed

    def follow(self) -> list[Anchor]:
        """Store the anchors whose transactions were mined since the last look."""
        return [a for landed in self.sender.poll().landed if (a := self._record(landed)) is not None]

    # ------------------------------------------------------------------ anchoring

    def _unanchored(self) -> int:
        latest = self.log.latest_anchor()
        return self.log.size - (latest.size if latest else 0)

    def due(self) -> bool:
        pending = self._unanchored()
        if pending <= 0 or self.sender.pending():
            return False
        return pending >= self.every_leaves or time.monotonic() - self._last_attempt >= self.every_seconds

    def _send(self) -> int:
        head = self.log.head()
        size, root = head.size, head.root
        self.sender.send(self.ledger.address, self.ledger.anchor_call(root, size), ANCHOR_GAS)
        self._last_attempt = time.monotonic()
        return size

    def anchor_now(self, timeout: float = 60.0) -> Anchor | None:
        """Anchor the current size if it grew since the last anchor, and wait until it is mined;
        returns the new anchor (None when there was nothing new)."""
        with self._lock:
            deadline = time.monotonic() + timeout
            self.recheck()
            self.follow()
            while self.sender.pending() and time.monotonic() < deadline:  # an anchor already on its way
                time.sleep(0.05)
                self.follow()
            if self._unanchored() <= 0:
                return None
            size = self._send()
            while time.monotonic() < deadline:
                for anchor in self.follow():
                    if anchor.size >= size:
                        return anchor
                if not self.sender.pending():
                    break  # mined but failed, or its nonce was taken: nothing anchored
                time.sleep(0.02)
        raise TransactionFailedError(
            f"the anchor of size {size} is not mined yet: it stays pending and is stored once the chain mines it"
        )

    def run_once(self) -> Anchor | None:
        """Follow what was sent; anchor when due (the anchor is stored when mined, a later round)."""
        with self._lock:
            self.recheck()
            stored = self.follow()
            if self.due():
                self._send()
            return stored[-1] if stored else None

    def _step(self) -> bool:
        self.run_once()
        return False  # one anchor per round at most; the loop then waits its interval

    def start(self, interval: float = 1.0) -> None:
        self._loop.start(interval)

    def stop(self, timeout: float = 10.0) -> None:
        self._loop.stop(timeout)

    @property
    def leading(self) -> bool:
        return self._loop.leading
