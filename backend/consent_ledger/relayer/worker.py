"""The relayer worker: takes due outbox rows, checks each against the chain, submits the ready ones
in batches from one key, and records what the receipts say.

Crash safety: before (re)submitting, every row's nonce is compared with the pair's on-chain
nonce. Equal: not landed yet, submit. Greater: that nonce was consumed, by this very message (a
crash after sending) or by another one (say a direct revoke from the wallet); the chain's event
for that nonce tells which, so a row is confirmed exactly once and never sent twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from consent_ledger.chain.events import GRANTED, REVOKED, Granted, Revoked, decode_logs
from consent_ledger.chain.ledger import Ledger
from consent_ledger.domain import GrantRequest
from consent_ledger.errors import ChainError, LedgerError
from consent_ledger.relayer.items import Item, Kind, Outcome, Status
from consent_ledger.relayer.outbox import Outbox
from consent_ledger.relayer.submitter import Submitter
from consent_ledger.workers import BackgroundLoop

log = logging.getLogger(__name__)


def _topic(address: str) -> str:
    return "0x" + "00" * 12 + address[2:].lower()


def _same(item: Item, event: Granted | Revoked) -> bool:
    if isinstance(event, Revoked):
        return item.kind is Kind.REVOKE
    request = item.request
    return (
        item.kind is Kind.GRANT
        and isinstance(request, GrantRequest)
        and (event.categories, event.purposes, event.expires_at)
        == (request.categories, request.purposes, request.expires_at)
        and event.notice_hash == "0x" + request.notice_hash.hex()
    )


class RelayerWorker:
    def __init__(
        self,
        outbox: Outbox,
        ledger: Ledger,
        submitter: Submitter,
        from_block: int,
        batch_size: int = 50,
        max_attempts: int = 8,
        finality_blocks: int = 64,
    ) -> None:
        self.finality_blocks = finality_blocks
        self.outbox = outbox
        self.ledger = ledger
        self.submitter = submitter
        self.from_block = from_block
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self._loop = BackgroundLoop("relayer", lambda: self.run_once() > 0)

    def _settled_elsewhere(self, items: Sequence[Item]) -> list[Outcome]:
        """These rows' nonces moved past them: find the events that consumed them (one log query)."""
        if not items:
            return []
        logs = self.ledger.rpc.request(
            "eth_getLogs",
            [
                {
                    "address": self.ledger.address,
                    "fromBlock": hex(self.from_block),
                    "toBlock": "latest",
                    "topics": [
                        [GRANTED, REVOKED],
                        sorted({_topic(i.request.customer) for i in items}),
                        sorted({_topic(i.request.brand) for i in items}),
                    ],
                }
            ],
        )
        consumed: dict[tuple[str, str, int], Granted | Revoked] = {}
        for event in decode_logs(logs, self.ledger.address):
            if isinstance(event, Granted | Revoked):
                consumed[(event.customer.lower(), event.brand.lower(), event.nonce)] = event
        outcomes = []
        for item in items:
            request = item.request
            found = consumed.get((request.customer.lower(), request.brand.lower(), request.nonce))
            if found is None:
                raise ChainError(
                    f"nonce {request.nonce} of {request.customer}/{request.brand} was used but no event shows it"
                )
            at = found.at
            if _same(item, found):
                outcomes.append(Outcome(item.id, Status.CONFIRMED, at.tx_hash, at.block_number, at.block_hash))
            else:
                kind = "grant" if isinstance(found, Granted) else "revocation"
                outcomes.append(
                    Outcome(
                        item.id, Status.REJECTED, at.tx_hash, at.block_number, at.block_hash, f"superseded by a {kind}"
                    )
                )
        return outcomes

    def recheck_confirmations(self) -> int:
        """Treat a reorg or a node restart that dropped blocks like a reorg: confirmations newer than
        `finality_blocks` are compared with the chain; if the confirming block is gone, the row is
        settled again from the chain's events (re-included elsewhere, or superseded) or re-queued."""
        head = self.ledger.rpc.block_number()
        recent = self.outbox.recent_confirmations(head - self.finality_blocks)
        if not recent:
            return 0
        headers = self.ledger.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for _, n, _ in recent])
        orphaned = [
            item
            for (item, _number, block_hash), header in zip(recent, headers, strict=True)
            if header is None or str(header["hash"]).lower() != block_hash.lower()
        ]
        if not orphaned:
            return 0
        self.submitter.sender.resync()  # the chain went backwards: so did our account's nonce
        nonces = self.ledger.nonces_of([(i.request.customer, i.request.brand) for i in orphaned])
        resettled = self._settled_elsewhere([i for i, n in zip(orphaned, nonces, strict=True) if n > i.request.nonce])
        requeued = [i.id for i, n in zip(orphaned, nonces, strict=True) if n <= i.request.nonce]
        if resettled:
            self.outbox.record(resettled)
        if requeued:
            log.warning("relayer: %d confirmations left the chain (reorg or node restart): re-queued", len(requeued))
            self.outbox.requeue(requeued, "re-queued: its block left the chain (reorg or node restart)")
        return len(orphaned)

    def run_once(self) -> int:
        """Re-check recent confirmations, then process one batch of due rows; returns how many rows
        it settled, re-queued or submitted."""
        try:
            rechecked = self.recheck_confirmations()
        except LedgerError as error:
            log.warning("relayer: cannot re-check confirmations: %s", error)
            rechecked = 0
        return rechecked + self._process_due()

    def _process_due(self) -> int:
        items = self.outbox.due(self.batch_size)
        if not items:
            return 0
        ready: list[Item] = []
        consumed: list[Item] = []
        waiting: list[int] = []
        try:
            nonces = self.ledger.nonces_of([(i.request.customer, i.request.brand) for i in items])
            for item, onchain in zip(items, nonces, strict=True):
                if onchain == item.request.nonce:
                    ready.append(item)
                elif onchain > item.request.nonce:
                    consumed.append(item)
                else:
                    waiting.append(item.id)  # an earlier message for the pair is not on-chain (yet)
            settled = self._settled_elsewhere(consumed)
        except LedgerError as error:
            log.warning("relayer: cannot read the chain: %s", error)
            self.outbox.retry_later([i.id for i in items], str(error), self.max_attempts)
            return 0
        if settled:
            self.outbox.record(settled)
        if waiting:
            self.outbox.retry_later(waiting, "waiting for an earlier nonce", self.max_attempts)
        if ready:
            self._submit(ready)
        return len(settled) + len(ready)

    def _submit(self, ready: Sequence[Item]) -> None:
        ids = [i.id for i in ready]
        self.outbox.mark_submitted(ids)
        try:
            outcomes = self.submitter.submit(ready)
        except LedgerError as error:
            log.warning("relayer: submission failed, will retry: %s", error)
            self.submitter.sender.resync()
            self.outbox.retry_later(ids, str(error), self.max_attempts)
            return
        self.outbox.record(outcomes)

    def drain(self, max_rounds: int = 1_000) -> None:
        """Run until nothing is due (tests, the CLI's one-shot mode)."""
        for _ in range(max_rounds):
            if self.run_once() == 0:
                return

    def start(self, interval: float) -> None:
        self._loop.start(interval)

    def stop(self, timeout: float = 10.0) -> None:
        self._loop.stop(timeout)

    def wait(self, timeout: float | None = None) -> None:
        self._loop.wait(timeout)
