"""What an operator asks a replica: can you serve (database and chain answer), and how is the shared work
going (which replica leads which background job, outbox depth and age, indexer lag,
last anchor). Read from the database and the chain on each
call, so every replica tells the same story. Never a secret: no URLs, keys or error messages that
could quote them, only error class names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.audit.log import AccessLog
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.db.base import utc_now
from consent_ledger.errors import ChainError, LedgerError
from consent_ledger.leases import LeaseState
from consent_ledger.relayer.items import Status
from consent_ledger.relayer.models import OutboxItem

SETTLED = (Status.CONFIRMED.value, Status.REJECTED.value)


class CursorSource(Protocol):
    def cursor(self) -> tuple[int, str] | None: ...


class LeaderSource(Protocol):
    def current_leaders(self) -> list[LeaseState]: ...


@dataclass
class Readiness:
    ready: bool
    checks: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"ready": self.ready, **self.checks}


class ReadinessService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        rpc: RpcClient,
        access_log: AccessLog,
        indexer: CursorSource,
        leases: LeaderSource,
        replica: str = "",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sessions = sessions
        self._leases = leases
        self._replica = replica
        self._rpc = rpc
        self._log = access_log
        self._indexer = indexer
        self._clock = clock

    def check(self) -> Readiness:
        database = self._database()
        chain = self._chain()
        checks: dict[str, Any] = {"database": database, "chain": chain}
        if database["ok"]:
            checks.update(self._shared_state(chain.get("head")))
        return Readiness(bool(database["ok"] and chain["ok"]), checks)

    def _database(self) -> dict[str, Any]:
        try:
            with self._sessions() as session:
                session.execute(text("SELECT 1"))
        except SQLAlchemyError as error:
            return {"ok": False, "error": type(error).__name__}
        return {"ok": True}

    def _chain(self) -> dict[str, Any]:
        try:
            head = self._rpc.block_number()
        except ChainError as error:
            return {"ok": False, "error": type(error).__name__, "circuit": self._rpc.breaker.state}
        return {"ok": True, "head": head, "circuit": self._rpc.breaker.state}

    def _shared_state(self, head: int | None) -> dict[str, Any]:
        now = self._clock()
        try:
            with self._sessions() as session:
                waiting, oldest = session.execute(
                    select(func.count(), func.min(OutboxItem.created_at)).where(OutboxItem.status.not_in(SETTLED))
                ).one()
            cursor = self._indexer.cursor()
            log_head = self._log.head()
            anchor = self._log.latest_anchor()
            leaders = self._leases.current_leaders()
        except (SQLAlchemyError, LedgerError) as error:
            return {"state_error": type(error).__name__}
        if oldest is not None and oldest.tzinfo is None:  # SQLite hands back naive UTC from an aggregate
            oldest = oldest.replace(tzinfo=now.tzinfo)
        indexed = cursor[0] if cursor is not None else None
        return {
            "replica": self._replica,
            "leaders": {
                lease.name: {
                    "holder": lease.holder,
                    "term": lease.term,
                    "live": lease.live,
                    "this_replica": lease.holder == self._replica,
                    "expires_at": lease.expires_at.isoformat(),
                }
                for lease in leaders
            },
            "outbox": {
                "waiting": int(waiting),
                "oldest_waiting_seconds": None if oldest is None else round((now - oldest).total_seconds(), 1),
            },
            "indexer": {
                "block": indexed,
                "lag_blocks": None if head is None or indexed is None else max(head - indexed, 0),
            },
            "access_log": {
                "size": log_head.size,
                "anchored_size": anchor.size if anchor else 0,
                "unanchored_leaves": log_head.size - (anchor.size if anchor else 0),
                "last_anchor_age_seconds": None
                if anchor is None
                else round((now - anchor.anchored_at).total_seconds(), 1),
            },
        }

    def gauges(self) -> Iterator[Metric]:
        """The readiness figures as Prometheus gauges, for GET /metrics."""
        readiness = self.check()
        checks = readiness.checks
        yield _gauge("consent_ready", "1 when the database and the chain answer", 1 if readiness.ready else 0)
        yield _gauge("consent_database_up", "1 when the database answers", 1 if checks["database"]["ok"] else 0)
        yield _gauge("consent_chain_up", "1 when the node answers", 1 if checks["chain"]["ok"] else 0)
        figures = [
            ("consent_chain_head_block", "the chain's latest block", checks["chain"].get("head")),
            ("consent_outbox_waiting", "signed messages not yet settled", _at(checks, "outbox", "waiting")),
            (
                "consent_outbox_oldest_waiting_seconds",
                "age of the oldest unsettled message",
                _at(checks, "outbox", "oldest_waiting_seconds"),
            ),
            (
                "consent_indexer_lag_blocks",
                "blocks the indexer is behind the head",
                _at(checks, "indexer", "lag_blocks"),
            ),
            ("consent_access_log_size", "leaves in the access log", _at(checks, "access_log", "size")),
            (
                "consent_access_log_unanchored_leaves",
                "leaves no on-chain anchor covers yet",
                _at(checks, "access_log", "unanchored_leaves"),
            ),
            (
                "consent_last_anchor_age_seconds",
                "age of the latest on-chain anchor",
                _at(checks, "access_log", "last_anchor_age_seconds"),
            ),
        ]
        for name, documentation, value in figures:
            if value is not None:
                yield _gauge(name, documentation, value)


def _at(checks: dict[str, Any], section: str, key: str) -> Any:
    part = checks.get(section)
    return part.get(key) if isinstance(part, dict) else None


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))
