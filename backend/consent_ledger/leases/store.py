"""Take, renew, release and list leases with single conditional statements.

Take or renew = `UPDATE leases SET holder=me ... WHERE name=job AND (holder=me OR expires_at < now)`;
when no row exists yet, an INSERT whose primary key refuses a second taker. Either statement is
atomic on SQLite and PostgreSQL, so two replicas can never both hold a job. Time is the database's
(`now()` on PostgreSQL), so hosts with skewed clocks still agree on who holds what; SQLite is one
host, its clock is the local one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.db.base import utc_now
from consent_ledger.leases.models import LeaseRow


@dataclass(frozen=True, slots=True)
class LeaseState:
    """One job's lease as the database holds it; `live` = not expired at `checked_at`."""

    name: str
    holder: str
    term: int
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime
    live: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "job": self.name,
            "holder": self.holder,
            "term": self.term,
            "acquired_at": self.acquired_at.isoformat(),
            "renewed_at": self.renewed_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "live": self.live,
        }


def database_now(session: Session) -> datetime:
    """The database's clock (PostgreSQL), or this host's (SQLite: a single host)."""
    if session.get_bind().dialect.name == "postgresql":
        value = session.execute(select(func.now())).scalar_one()
        if isinstance(value, datetime):
            return value
    return utc_now()


class LeaseStore:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory

    def acquire(self, name: str, holder: str, ttl: float) -> int | None:
        """Take `name` for `holder` (or renew it) for `ttl` seconds; returns the lease's term when held,
        None when another holder's lease is still live."""
        with self._sessions.begin() as session:
            now = database_now(session)
            until = now + timedelta(seconds=ttl)
            taken = session.execute(
                update(LeaseRow)
                .where(LeaseRow.name == name, or_(LeaseRow.holder == holder, LeaseRow.expires_at < now))
                .values(
                    term=case((LeaseRow.holder == holder, LeaseRow.term), else_=LeaseRow.term + 1),
                    acquired_at=case((LeaseRow.holder == holder, LeaseRow.acquired_at), else_=now),
                    holder=holder,
                    renewed_at=now,
                    expires_at=until,
                )
                .returning(LeaseRow.term)
                .execution_options(synchronize_session=False)
            ).scalar_one_or_none()
            if taken is not None:
                return int(taken)
            if session.get(LeaseRow, name) is not None:
                return None  # someone else holds it
        try:
            with self._sessions.begin() as session:
                session.add(
                    LeaseRow(name=name, holder=holder, term=1, acquired_at=now, renewed_at=now, expires_at=until)
                )
        except IntegrityError:
            return None  # another replica inserted it first
        return 1

    def release(self, name: str, holder: str) -> bool:
        """Give the lease up now (a clean shutdown), so another replica takes over at once."""
        with self._sessions.begin() as session:
            now = database_now(session)
            result = session.execute(
                update(LeaseRow)
                .where(LeaseRow.name == name, LeaseRow.holder == holder, LeaseRow.expires_at >= now)
                .values(expires_at=now - timedelta(microseconds=1))
                .returning(LeaseRow.name)
                .execution_options(synchronize_session=False)
            )
            return result.first() is not None

    def current_leaders(self) -> list[LeaseState]:
        """Every job's lease: who holds it, since when, until when, and whether it is still live."""
        with self._sessions() as session:
            now = database_now(session)
            rows = session.scalars(select(LeaseRow).order_by(LeaseRow.name)).all()
            return [
                LeaseState(r.name, r.holder, r.term, r.acquired_at, r.renewed_at, r.expires_at, r.expires_at >= now)
                for r in rows
            ]
