"""Bind a database to one deployment, and refuse another: outbox rows, receipts and nonces belong
to one contract on one chain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from consent_ledger.db.base import Base, UtcDateTime, utc_now
from consent_ledger.errors import ConfigError


class DeploymentBinding(Base):
    """The deployment this database serves (one row)."""

    __tablename__ = "deployment_binding"

    id: Mapped[int] = mapped_column(Integer(), primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger())
    contract: Mapped[str] = mapped_column(String(42))
    bound_at: Mapped[datetime] = mapped_column(UtcDateTime())


def bind_deployment(sessions: sessionmaker[Session], chain_id: int, contract: str) -> None:
    with sessions.begin() as session:
        row = session.get(DeploymentBinding, 1)
        if row is None:
            session.add(DeploymentBinding(id=1, chain_id=chain_id, contract=contract, bound_at=utc_now()))
            return
        if row.chain_id != chain_id or row.contract.lower() != contract.lower():
            raise ConfigError(
                f"this database belongs to contract {row.contract} on chain {row.chain_id}, but the deployment "
                f"is {contract} on chain {chain_id}: point CONSENT_DATABASE_URL at a database for this deployment "
                "(or at a new one)"
            )
