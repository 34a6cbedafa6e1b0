"""The relayer worker: claims due outbox rows, checks each against the chain, sends the ready ones in
batches through the durable sender, and settles every row from the chain's own events.

One round:
1. transactions whose block left the chain (a reorg, a node restarted from an older state): their
   rows wait for them to be mined again; rows settled in a vanished block by another transaction's
   event are settled again from the chain, or re-queued;
2. pending transactions: mined ones settle their rows from the receipt's events; a transaction whose
   nonce another transaction used, or that failed, leaves its rows to be settled from the chain;
   the reason a transaction is not mined yet (no funds, node down) is shown on its rows;
3. doubtful rejections (an `invalid_nonce`, an old give-up) are settled again from the chain;
4. due rows are claimed atomically and checked against each pair's on-chain nonce: consumed ones
   are settled from the event that consumed them (a crash after sending, a direct wallet call),
   early ones wait, ready ones go out, one transaction per kind, revocations first.

Every row is settled from the chain's event for its (customer, brand, nonce), so a row cannot end
`rejected` while its grant is on-chain; nothing transient gives a row up, it waits with a reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from consent_ledger.chain.events import GRANT_TOPICS, REVOKED, Granted, Revoked, decode_logs
from consent_ledger.chain.ledger import Ledger
from consent_ledger.errors import ChainError, ConflictError, LedgerError, NodeUnavailableError
from consent_ledger.relayer.expect import ANY_TX, Expect
from consent_ledger.relayer.items import Item, Kind, Outcome, Status
from consent_ledger.relayer.matching import same_message
from consent_ledger.relayer.outbox import Outbox
from consent_ledger.relayer.submitter import Submitter, outcomes_from_events
from consent_ledger.sender.durable import DurableSender
from consent_ledger.sender.records import Landed
from consent_ledger.sender.refusals import NO_FUNDS, NODE_DOWN
from consent_ledger.workers import BackgroundLoop, Guard

log = logging.getLogger(__name__)

LEFT_THE_CHAIN = "its block left the chain (reorg or node restart): waiting for it to be mined again"
REQUEUED = "re-queued: the chain does not hold it (its transaction was lost or replaced)"
EARLIER_FIRST = "waiting for an earlier message for this brand to be confirmed"


def _topic(address: str) -> str:
    return "0x" + "00" * 12 + address[2:].lower()


def waiting_reason(error: LedgerError) -> str:
    if isinstance(error, NodeUnavailableError):
        return f"waiting: {NODE_DOWN}"
    return f"waiting: {error}"[:200]


class RelayerWorker:
    def __init__(
        self,
        outbox: Outbox,
        ledger: Ledger,
        sender: DurableSender,
        from_block: int,
        batch_size: int = 50,
        *,
        holder: str = "relayer",
        max_backoff: float = 30.0,
        finality_blocks: int = 64,
        guard: Guard | None = None,
    ) -> None:
        self.outbox = outbox
        self.ledger = ledger
        self.sender = sender
        self.submitter = Submitter(ledger)
        self.from_block = from_block
        self.batch_size = batch_size
        self.holder = holder
        self.max_backoff = max_backoff
        self.finality_blocks = finality_blocks
        self._loop = BackgroundLoop("relayer", lambda: self.run_once() > 0, guard)

    # ------------------------------------------------------------------ the chain's verdict

    def _consumed_by(self, items: Sequence[Item]) -> list[Outcome]:
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
                        [*GRANT_TOPICS, REVOKED],
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
            if same_message(item, found):
                outcomes.append(Outcome(item.id, Status.CONFIRMED, at.tx_hash, at.block_number, at.block_hash))
            else:
                kind = "grant" if isinstance(found, Granted) else "revocation"
                outcomes.append(
                    Outcome(
                        item.id, Status.REJECTED, at.tx_hash, at.block_number, at.block_hash, f"superseded by a {kind}"
                    )
                )
        return outcomes

    def _from_chain(self, items: Sequence[Item]) -> tuple[list[Outcome], list[int]]:
        """What the chain says of these rows now: outcomes for those whose nonce was consumed, and the
        ids of those whose nonce is still open (the message did not land: it may be sent again)."""
        if not items:
            return [], []
        nonces = self.ledger.nonces_of([(i.request.customer, i.request.brand) for i in items])
        consumed = [i for i, n in zip(items, nonces, strict=True) if n > i.request.nonce]
        open_ = [i.id for i, n in zip(items, nonces, strict=True) if n <= i.request.nonce]
        return self._consumed_by(consumed), open_

    def _resettle(self, items: Sequence[Item], expect: Expect, reason: str = REQUEUED) -> int:
        outcomes, open_ = self._from_chain(items)
        return self.outbox.settle(outcomes, expect) + self.outbox.requeue(open_, reason, expect)

    # ------------------------------------------------------------------ one round

    def follow_reorgs(self) -> int:
        """Step 1: transactions and rows whose block left the chain."""
        changed = 0
        for moved in self.sender.recheck_mined():
            if moved.receipt is None:
                changed += self.outbox.unsettle(moved.tx.id, LEFT_THE_CHAIN)
        head = self.ledger.rpc.block_number()
        recent = self.outbox.recent_settled(head - self.finality_blocks)
        if not recent:
            return changed
        numbers = sorted({s.block_number for s in recent})
        headers = self.ledger.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        canonical = {n: str((h or {}).get("hash", "")).lower() for n, h in zip(numbers, headers, strict=True)}
        for gone in [s for s in recent if canonical[s.block_number] != s.block_hash.lower()]:
            log.warning(
                "relayer: row %d was settled in block %d, which left the chain", gone.item.id, gone.block_number
            )
            changed += self._resettle([gone.item], Expect(gone.status, gone.tx_id))
        return changed

    def follow_sent(self) -> int:
        """Step 2: the pending transactions' fate."""
        result = self.sender.poll()
        settled = sum(self._landed(landed) for landed in result.landed)
        for tx in result.waiting:
            self.outbox.note_waiting(tx.id, tx.error)
        # Rows still submitted under a transaction that is no longer pending (this process stopped
        # between settling the transaction and its rows, or an item had no event): settle them now.
        seen = {t.id for t in result.waiting} | {landed.tx.id for landed in result.landed}
        left = self.outbox.submitted_tx_ids() - seen
        if left:
            settled += sum(self._landed(landed) for landed in self.sender.landed_of(sorted(left)))
        return settled

    def _landed(self, landed: Landed) -> int:
        items = self.outbox.carried_by(landed.tx.id)
        expect = Expect(Status.SUBMITTED, landed.tx.id)
        receipt = landed.receipt
        if not items:
            return 0
        if receipt is None or receipt.status != 1:  # its nonce went to another transaction, or it failed
            return self._resettle(items, expect)
        outcomes = outcomes_from_events(items, decode_logs(receipt.logs, self.ledger.address), receipt.tx_hash)
        doubtful = {o.item_id for o in outcomes if o.status is Status.REJECTED and o.reason == "invalid_nonce"}
        moved = self.outbox.settle([o for o in outcomes if o.item_id not in doubtful], expect)
        return moved + self._resettle([i for i in items if i.id in doubtful], expect)

    def recheck_rejected(self) -> int:
        """Step 3: rejections that did not come from the chain's own event for the row's nonce."""
        items = self.outbox.doubtful_rejections(self.batch_size)
        return self._resettle(items, Expect(Status.REJECTED, ANY_TX), "re-queued: its earlier rejection was not final")

    def process_due(self) -> int:
        """Step 4: claim due rows, settle the consumed, send the ready."""
        items = self.outbox.claim(self.holder, self.batch_size)
        if not items:
            return 0
        ids = [i.id for i in items]
        try:
            nonces = self.ledger.nonces_of([(i.request.customer, i.request.brand) for i in items])
            ready = [i for i, n in zip(items, nonces, strict=True) if n == i.request.nonce]
            early = [i.id for i, n in zip(items, nonces, strict=True) if n < i.request.nonce]
            settled = self._consumed_by([i for i, n in zip(items, nonces, strict=True) if n > i.request.nonce])
        except LedgerError as error:
            log.warning("relayer: cannot read the chain: %s", error)
            self.outbox.release(ids, self.holder, waiting_reason(error), self.max_backoff)
            return 0
        done = self.outbox.settle(settled, Expect(Status.ACCEPTED, holder=self.holder))
        self.outbox.release(early, self.holder, EARLIER_FIRST, self.max_backoff)
        for kind in (Kind.REVOKE, Kind.GRANT):  # revocations first: withdrawing consent never waits behind grants
            group = [i for i in ready if i.kind is kind]
            if group:
                done += self._send(kind, group)
        return done

    def _send(self, kind: Kind, group: Sequence[Item]) -> int:
        ids = [i.id for i in group]
        data, gas = self.submitter.batch_call(kind, group)
        try:
            max_fee, _ = self.sender.signer.fees()
            if self.sender.signer.balance() < gas * max_fee:
                self.outbox.release(ids, self.holder, NO_FUNDS, self.max_backoff)
                return 0
            link: Callable[..., None] = lambda session, tx_id, tx_hash: self.outbox.attach(  # noqa: E731
                session, ids, self.holder, tx_id, tx_hash
            )
            self.sender.send(self.ledger.address, data, gas, link)
        except ConflictError as error:  # another worker took some of these rows meanwhile: nothing was sent
            log.warning("relayer: %s", error)
            return 0
        except LedgerError as error:
            log.warning("relayer: could not send a batch, will retry: %s", error)
            self.outbox.release(ids, self.holder, waiting_reason(error), self.max_backoff)
            return 0
        return len(ids)

    def run_once(self) -> int:
        """One round (see the module doc); returns how many rows it moved or sent."""
        done = 0
        for step in (self.follow_reorgs, self.follow_sent, self.recheck_rejected, self.process_due):
            try:
                done += step()
            except LedgerError as error:
                log.warning("relayer: %s: %s (next round retries)", step.__name__, error)
        return done

    def idle(self) -> bool:
        """Nothing due and nothing in flight."""
        return not self.outbox.has_due() and not self.sender.pending()

    def drain(self, timeout: float = 120.0, poll: float = 0.02) -> None:
        """Run until nothing is due and every sent transaction is settled (tests, one-shot commands)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run_once() == 0:
                if self.idle():
                    return
                time.sleep(poll)

    def start(self, interval: float) -> None:
        self._loop.start(interval)

    def stop(self, timeout: float = 10.0) -> None:
        self._loop.stop(timeout)

    def wait(self, timeout: float | None = None) -> None:
        self._loop.wait(timeout)

    @property
    def leading(self) -> bool:
        return self._loop.leading
