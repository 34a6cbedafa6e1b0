"""A sender whose every transaction is recorded before it leaves, and followed until the chain settles it.

- `send`: the nonce is the larger of the chain's count and the account's last recorded nonce + 1,
  taken inside a database transaction (the unique (account, nonce) key refuses a second taker; on
  PostgreSQL an advisory lock serialises the account's senders). The signed transaction is stored,
  together with whatever the caller links to it (`link`, e.g. the outbox rows it carries), and only
  then broadcast. A crash between the commit and the broadcast leaves a pending row that `poll`
  broadcasts again.
- `poll`: each pending transaction is looked up by every hash it was sent under. Mined: settled,
  with its receipt. Its nonce used by a transaction we never recorded: dropped (what it carried did
  not land). Otherwise it is re-broadcast now and then (a node restart empties the mempool), and
  after `replace_after` seconds replaced with the same nonce and higher fees, so a stuck
  transaction is sped up, never duplicated under another nonce. The node's refusal (no funds, node
  down) is kept on the row for the caller to show.
- `recheck_mined`: a mined transaction whose block left the chain (a reorg, or a node restarted
  from an older state) is looked up again: re-mined elsewhere, or back to pending and re-broadcast
  with its own nonce.

Each caller (relayer, anchorer) owns one `purpose` and polls only its own rows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.chain.tx import Receipt, TxSender
from consent_ledger.db.base import utc_now
from consent_ledger.errors import NodeUnavailableError, RpcError, UnavailableError
from consent_ledger.sender.models import SentTransaction
from consent_ledger.sender.records import DROPPED, MINED, PENDING, Landed, Round, SentTx, view
from consent_ledger.sender.refusals import refusal

log = logging.getLogger(__name__)

_ADVISORY_BASE = 0x53656E64  # "Send": the key space of the per-account advisory locks


def _bumped(old: int, percent: int) -> int:
    return old * (100 + percent) // 100 + 1


class DurableSender:
    def __init__(
        self,
        signer: TxSender,
        session_factory: sessionmaker[Session],
        purpose: str,
        *,
        replace_after: float = 30.0,
        rebroadcast_after: float = 3.0,
        fee_bump_percent: int = 25,
        max_replacements: int = 10,
        finality_blocks: int = 64,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.signer = signer
        self._sessions = session_factory
        self.purpose = purpose
        self.replace_after = timedelta(seconds=replace_after)
        self.rebroadcast_after = timedelta(seconds=rebroadcast_after)
        self.fee_bump_percent = fee_bump_percent
        self.max_replacements = max_replacements
        self.finality_blocks = finality_blocks
        self._clock = clock

    @property
    def address(self) -> str:
        return self.signer.address

    # ------------------------------------------------------------------ sending

    def _lock_account(self, session: Session) -> None:
        if session.get_bind().dialect.name == "postgresql":
            key = _ADVISORY_BASE << 24 ^ int(self.address[2:9], 16)
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    def send(self, to: str, data: str, gas: int, link: Callable[[Session, int, str], None] | None = None) -> SentTx:
        """Record a new transaction under the next nonce (with `link(session, tx_id, tx_hash)` in the same
        database transaction: if it raises, nothing is recorded or sent), then broadcast it. A refused
        broadcast is recorded on the row and retried by `poll`."""
        max_fee, priority_fee = self.signer.fees()
        chain_nonce = self.signer.chain_nonce("latest")
        for _ in range(5):
            now = self._clock()
            flushed = False
            try:
                with self._sessions.begin() as session:
                    self._lock_account(session)
                    top = session.scalar(
                        select(func.max(SentTransaction.nonce)).where(SentTransaction.account == self.address)
                    )
                    nonce = max(chain_nonce, 0 if top is None else int(top) + 1)
                    signed = self.signer.sign(nonce, to, data, gas, max_fee, priority_fee)
                    row = SentTransaction(
                        account=self.address,
                        nonce=nonce,
                        purpose=self.purpose,
                        to_address=to,
                        data=data,
                        gas=gas,
                        max_fee=str(max_fee),
                        priority_fee=str(priority_fee),
                        raw=signed.raw,
                        tx_hash=signed.tx_hash,
                        hashes=json.dumps([signed.tx_hash]),
                        state=PENDING,
                        sends=0,
                        created_at=now,
                        signed_at=now,
                        sent_at=now,
                        updated_at=now,
                    )
                    session.add(row)
                    session.flush()
                    flushed = True
                    if link is not None:
                        link(session, row.id, signed.tx_hash)
                    record = view(row)
            except IntegrityError:
                if flushed:
                    raise
                continue  # another process took this nonce a moment ago: number again
            self._broadcast(record.id, signed.raw)
            return record
        raise UnavailableError(f"could not allocate a nonce for {self.address}: too many concurrent senders")

    def _broadcast(self, tx_id: int, raw: str) -> str | None:
        error: str | None = None
        try:
            self.signer.broadcast(raw)
        except (RpcError, NodeUnavailableError) as refused:
            error = refusal(refused)
            if error is not None:
                log.warning("sender %s: transaction %d not accepted by the node: %s", self.purpose, tx_id, refused)
        now = self._clock()
        with self._sessions.begin() as session:
            session.execute(
                update(SentTransaction)
                .where(SentTransaction.id == tx_id, SentTransaction.state == PENDING)
                .values(sends=SentTransaction.sends + 1, sent_at=now, error=error, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        return error

    # ------------------------------------------------------------------ following

    def _rows(self, *states: str, above_block: int | None = None) -> list[SentTransaction]:
        query = select(SentTransaction).where(
            SentTransaction.account == self.address,
            SentTransaction.purpose == self.purpose,
            SentTransaction.state.in_(states),
        )
        if above_block is not None:
            query = query.where(SentTransaction.block_number > above_block)
        with self._sessions() as session:
            return list(session.scalars(query.order_by(SentTransaction.nonce)))

    def pending(self) -> list[SentTx]:
        return [view(r) for r in self._rows(PENDING)]

    def _receipts(self, rows: Sequence[SentTransaction]) -> dict[int, Receipt]:
        """Each row's receipt, whichever of its hashes was mined (one JSON-RPC batch)."""
        calls: list[tuple[str, list[Any]]] = []
        owners: list[int] = []
        for row in rows:
            for tx_hash in json.loads(row.hashes):
                calls.append(("eth_getTransactionReceipt", [tx_hash]))
                owners.append(row.id)
        found: dict[int, Receipt] = {}
        for owner, raw in zip(owners, self.signer.rpc.batch(calls), strict=True):
            if raw is not None and raw.get("blockHash"):
                found[owner] = Receipt.from_rpc(raw)
        return found

    def _settle(self, row: SentTransaction, receipt: Receipt | None, expected: str) -> bool:
        """Compare-and-set the row from `expected` to mined (with `receipt`) or dropped."""
        now = self._clock()
        values: dict[str, Any] = {"updated_at": now, "error": None}
        if receipt is None:
            values["state"] = DROPPED
        else:
            values |= {
                "state": MINED,
                "mined_hash": receipt.tx_hash,
                "block_number": receipt.block_number,
                "block_hash": receipt.block_hash,
                "succeeded": receipt.status == 1,
            }
        with self._sessions.begin() as session:
            moved = session.execute(
                update(SentTransaction)
                .where(SentTransaction.id == row.id, SentTransaction.state == expected)
                .values(**values)
                .returning(SentTransaction.id)
                .execution_options(synchronize_session=False)
            ).first()
        return moved is not None

    def poll(self) -> Round:
        """Settle, re-broadcast or replace this purpose's pending transactions (see the module doc)."""
        rows = self._rows(PENDING)
        if not rows:
            return Round()
        chain_nonce = self.signer.chain_nonce("latest")  # before the receipts: see the dropped rule
        receipts = self._receipts(rows)
        result = Round()
        for row in rows:
            receipt = receipts.get(row.id)
            if receipt is not None or chain_nonce > row.nonce:
                # No receipt under any of our hashes, yet the nonce is used: another transaction took it.
                if self._settle(row, receipt, PENDING):
                    row.state = MINED if receipt is not None else DROPPED
                    result.landed.append(Landed(view(row), receipt))
                    if receipt is None:
                        log.warning(
                            "sender %s: nonce %d was used by a transaction we did not send", self.purpose, row.nonce
                        )
                continue
            self._keep_alive(row)
            result.waiting.append(view(row))
        return result

    def _keep_alive(self, row: SentTransaction) -> None:
        now = self._clock()
        replacements = len(json.loads(row.hashes)) - 1
        if now - row.signed_at >= self.replace_after and replacements < self.max_replacements:
            self._replace(row)
        elif now - row.sent_at >= self.rebroadcast_after:
            row.error = self._broadcast(row.id, row.raw)

    def _replace(self, row: SentTransaction) -> None:
        """Same nonce, same call, higher fees: whichever version is mined, the call runs once."""
        max_fee, priority_fee = self.signer.fees()
        new_tip = max(priority_fee, _bumped(int(row.priority_fee), self.fee_bump_percent))
        new_max = max(max_fee, _bumped(int(row.max_fee), self.fee_bump_percent), new_tip)
        signed = self.signer.sign(row.nonce, row.to_address, row.data, row.gas, new_max, new_tip)
        hashes = [*json.loads(row.hashes), signed.tx_hash]
        now = self._clock()
        with self._sessions.begin() as session:
            moved = session.execute(
                update(SentTransaction)
                .where(
                    SentTransaction.id == row.id,
                    SentTransaction.state == PENDING,
                    SentTransaction.tx_hash == row.tx_hash,
                )
                .values(
                    raw=signed.raw,
                    tx_hash=signed.tx_hash,
                    hashes=json.dumps(hashes),
                    max_fee=str(new_max),
                    priority_fee=str(new_tip),
                    signed_at=now,
                    updated_at=now,
                )
                .returning(SentTransaction.id)
                .execution_options(synchronize_session=False)
            ).first()
        if moved is None:
            return  # settled or replaced meanwhile by another process
        log.info(
            "sender %s: nonce %d still pending, replaced with higher fees (%s)", self.purpose, row.nonce, signed.tx_hash
        )
        row.raw, row.tx_hash, row.hashes = signed.raw, signed.tx_hash, json.dumps(hashes)
        row.error = self._broadcast(row.id, signed.raw)

    def landed_of(self, tx_ids: Sequence[int]) -> list[Landed]:
        """These transactions, when they are no longer pending, with the receipt of the mined ones (to
        finish settling what they carried after an interruption)."""
        with self._sessions() as session:
            rows = list(
                session.scalars(
                    select(SentTransaction).where(
                        SentTransaction.id.in_(list(tx_ids)), SentTransaction.state != PENDING
                    )
                )
            )
        landed = []
        for row in rows:
            receipt = None
            if row.state == MINED and row.mined_hash:
                raw = self.signer.rpc.request("eth_getTransactionReceipt", [row.mined_hash])
                if raw is None:
                    continue  # its block left the chain: recheck_mined puts it back to pending
                receipt = Receipt.from_rpc(raw)
            landed.append(Landed(view(row), receipt))
        return landed

    def recheck_mined(self) -> list[Landed]:
        """Mined transactions of the last `finality_blocks` whose block left the chain: re-mined
        elsewhere (`receipt` is the new one) or back to pending and re-broadcast (`receipt` None)."""
        head = self.signer.rpc.block_number()
        rows = self._rows(MINED, above_block=head - self.finality_blocks)
        if not rows:
            return []
        numbers = sorted({int(r.block_number or 0) for r in rows})
        headers = self.signer.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        canonical = {n: (h or {}).get("hash", "") for n, h in zip(numbers, headers, strict=True)}
        gone = [r for r in rows if str(canonical[int(r.block_number or 0)]).lower() != str(r.block_hash).lower()]
        if not gone:
            return []
        receipts = self._receipts(gone)
        moved: list[Landed] = []
        now = self._clock()
        for row in gone:
            receipt = receipts.get(row.id)
            values: dict[str, Any]
            if receipt is not None:
                values = {"block_number": receipt.block_number, "block_hash": receipt.block_hash}
                values |= {"mined_hash": receipt.tx_hash, "succeeded": receipt.status == 1}
            else:  # pending again: re-broadcast at once, the replacement clock starts over
                values = {"state": PENDING, "block_number": None, "block_hash": None, "mined_hash": None}
                values |= {"succeeded": None, "signed_at": now}
            with self._sessions.begin() as session:
                changed = session.execute(
                    update(SentTransaction)
                    .where(
                        SentTransaction.id == row.id,
                        SentTransaction.state == MINED,
                        SentTransaction.block_hash == row.block_hash,
                    )
                    .values(updated_at=now, **values)
                    .returning(SentTransaction.id)
                    .execution_options(synchronize_session=False)
                ).first()
            if changed is None:
                continue
            if receipt is None:
                log.warning(
                    "sender %s: nonce %d left the chain with block %s; sending it again",
                    self.purpose,
                    row.nonce,
                    row.block_number,
                )
                row.state, row.block_number, row.block_hash = PENDING, None, None
                self._broadcast(row.id, row.raw)
            else:
                row.block_number, row.block_hash = receipt.block_number, receipt.block_hash
            moved.append(Landed(view(row), receipt))
        return moved
