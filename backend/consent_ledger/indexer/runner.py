"""Follow the contract's events into `chain_events`, block range by block range, surviving reorgs.

One step: read the head; if the cursor block is no longer canonical (reorg, or a node restart that
dropped recent blocks), rewind to the newest stored block the chain still agrees with; then fetch
logs with raw `eth_getLogs` in chunks (fetch.py checks each chunk is from one history), decode
them by hand, and insert each chunk's rows together with the new cursor in ONE transaction. A
crash leaves the cursor consistent with the rows; a re-run continues from the cursor.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.addresses import checksum
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.errors import ConfigError, NodeUnavailableError
from consent_ledger.indexer.fetch import RPC_BATCH, ChainReader, Chunk, Cursor
from consent_ledger.indexer.models import ChainEvent, IndexerCursor
from consent_ledger.indexer.rows import insert_rows
from consent_ledger.workers import BackgroundLoop, Guard

log = logging.getLogger(__name__)

CURSOR_ID = 1
FIRST_SPAN = 16  # blocks in the first chunk; then steered towards TARGET_ROWS rows a chunk
TARGET_ROWS = 20_000


@dataclass(frozen=True)
class IndexStep:
    """What one `run_once` did: blocks [from_block, to_block] indexed (empty when to_block <
    from_block), `events` rows added, `rewound_to` the fork point when it rewound, `target` the
    block it aimed for (head - confirmations)."""

    from_block: int
    to_block: int
    events: int
    rewound_to: int | None = None
    target: int = -1

    @property
    def caught_up(self) -> bool:
        return self.to_block >= self.target


class Indexer:
    def __init__(
        self,
        rpc: RpcClient,
        contract: str,
        from_block: int,
        session_factory: sessionmaker[Session],
        confirmations: int = 0,
        chunk: int = 2_000,
        guard: Guard | None = None,
    ) -> None:
        if chunk < 1 or confirmations < 0 or from_block < 0:
            raise ValueError("chunk must be >= 1, confirmations and from_block >= 0")
        self.rpc = rpc
        self.contract = checksum(contract)
        self.from_block = from_block
        self.sessions = session_factory
        self.confirmations = confirmations
        self.chunk = chunk
        self.reader = ChainReader(rpc, self.contract)
        self._span = min(chunk, FIRST_SPAN)
        self._loop = BackgroundLoop("indexer", self._step, guard)

    # ------------------------------------------------------------------ cursor

    def _cursor_row(self, session: Session, lock: bool = False) -> IndexerCursor | None:
        query = select(IndexerCursor).where(IndexerCursor.id == CURSOR_ID)
        row = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
        if row is not None and row.contract.lower() != self.contract.lower():
            raise ConfigError(
                f"this database indexes contract {row.contract}, not {self.contract}: use a database of this deployment"
            )
        return row

    def cursor(self) -> Cursor | None:
        """The last indexed block (number, hash); None before the first chunk."""
        with self.sessions() as session:
            row = self._cursor_row(session)
            return None if row is None else (row.block_number, row.block_hash)

    def _claim(self, session: Session, expected: Cursor | None) -> bool:
        """Lock the cursor row; False when another writer moved it since we read it."""
        row = self._cursor_row(session, lock=True)
        return (None if row is None else (row.block_number, row.block_hash)) == expected

    def _set_cursor(self, session: Session, cursor: Cursor | None) -> None:
        row = self._cursor_row(session)
        if cursor is None:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(
                IndexerCursor(id=CURSOR_ID, contract=self.contract, block_number=cursor[0], block_hash=cursor[1])
            )
        else:
            row.block_number, row.block_hash = cursor

    # ------------------------------------------------------------------ rewind

    def _rewind(self, cursor: Cursor) -> int | None:
        """Find the newest stored block the chain still agrees with, delete every row above it
        and move the cursor there (one transaction). Returns the fork point, None if another
        writer moved the cursor meanwhile."""
        fork: Cursor | None = None
        upper, size = cursor[0], 16
        while fork is None:
            with self.sessions() as session:
                stored = session.execute(
                    select(ChainEvent.block_number, ChainEvent.block_hash)
                    .where(ChainEvent.block_number < upper)
                    .distinct()
                    .order_by(ChainEvent.block_number.desc())
                    .limit(size)
                ).all()
            if not stored:
                break
            chain = self.reader.blocks([number for number, _ in stored])
            for (number, block_hash), block in zip(stored, chain, strict=True):
                if block is not None and block["hash"] == block_hash:
                    fork = (number, block_hash)
                    break
            upper, size = stored[-1][0], min(size * 4, 4 * RPC_BATCH)
        with self.sessions.begin() as session:
            if not self._claim(session, cursor):
                return None
            keep = fork[0] if fork is not None else self.from_block - 1
            session.execute(delete(ChainEvent).where(ChainEvent.block_number > keep))
            self._set_cursor(session, fork)
        log.warning("indexer: chain reorganised below block %d; rewound to block %d", cursor[0], keep)
        return keep

    # ------------------------------------------------------------------- index

    def _next_span(self, chunk: Chunk) -> int:
        """Blocks per chunk, steered towards ~TARGET_ROWS rows (within 1..self.chunk)."""
        blocks = chunk.stop - chunk.start + 1
        if len(chunk.rows) > 2 * TARGET_ROWS:
            return max(1, blocks // 2)
        if len(chunk.rows) < TARGET_ROWS // 2:
            return min(self.chunk, max(blocks, self._span) * 2)
        return blocks

    def _write(self, chunk: Chunk, expected: Cursor | None) -> bool:
        """Rows and the new cursor in one transaction; False if another writer moved the cursor."""
        with self.sessions.begin() as session:
            if not self._claim(session, expected):
                return False
            insert_rows(session.connection(), chunk.rows)
            self._set_cursor(session, chunk.cursor)
        return True

    def _run(self, on_chunk: Callable[[int, int], None] | None = None) -> IndexStep:
        """One step; `on_chunk(last indexed block, target)` after each chunk (and once first).
        The next chunk is fetched and decoded (one thread) while this one is written."""
        target = self.reader.head() - self.confirmations
        cursor = self.cursor()
        rewound: int | None = None
        if cursor is not None and not self.reader.canonical(cursor):
            rewound = self._rewind(cursor)
            cursor = self.cursor()
        first = cursor[0] + 1 if cursor is not None else self.from_block
        last, events = first - 1, 0
        if on_chunk is not None:
            on_chunk(last, target)
        if first > target:
            return IndexStep(first, last, 0, rewound, target)
        with ThreadPoolExecutor(1, thread_name_prefix="indexer-fetch") as pool:
            pending: Future[Chunk | None] | None = pool.submit(
                self.reader.fetch, first, min(target, first + self._span - 1), cursor
            )
            while pending is not None:
                chunk = pending.result()
                if chunk is None:
                    log.info("indexer: the chain moved while reading blocks after %d; retrying next step", last)
                    break
                self._span = self._next_span(chunk)
                start, pending = chunk.stop + 1, None
                if start <= target and not self._loop.stopping:
                    stop = min(target, start + self._span - 1)
                    pending = pool.submit(self.reader.fetch, start, stop, chunk.cursor)
                if not self._write(chunk, cursor):
                    break
                cursor, last, events = chunk.cursor, chunk.stop, events + len(chunk.rows)
                if on_chunk is not None:
                    on_chunk(last, target)
        return IndexStep(first, last, events, rewound, target)

    def run_once(self) -> IndexStep:
        """Rewind if needed, then index up to head - confirmations (chunk by chunk)."""
        return self._run()

    def backfill(self, progress: Callable[[int, int], None] | None = None) -> IndexStep:
        """Run until caught up with the head, reporting (done_blocks, total_blocks) per chunk.
        Returns the last step, with `events` summed over all steps."""
        cursor = self.cursor()
        origin = cursor[0] + 1 if cursor is not None else self.from_block

        def report(indexed: int, target: int) -> None:
            if progress is not None:
                progress(max(0, indexed - origin + 1), max(0, target - origin + 1))

        events = 0
        while True:
            step = self._run(report)
            events += step.events
            if step.caught_up or self._loop.stopping:
                return IndexStep(step.from_block, step.to_block, events, step.rewound_to, step.target)
            if step.to_block < step.from_block:
                time.sleep(0.05)  # the chain moved under a chunk: let it settle

    # -------------------------------------------------------------- background

    def start(self, interval: float) -> None:
        self._loop.start(interval)

    @property
    def leading(self) -> bool:
        return self._loop.leading

    def _step(self) -> bool:
        try:
            return not self.run_once().caught_up
        except NodeUnavailableError as error:
            log.warning("indexer: %s", error)
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """Stop following; a chunk being written finishes first (the loop checks between chunks)."""
        self._loop.stop(timeout)
