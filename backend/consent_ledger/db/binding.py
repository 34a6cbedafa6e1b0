"""Bind a database to one deployment, and refuse another: outbox rows, receipts and nonces belong
to one contract on one chain, the chain named by its id and its genesis block's hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from consent_ledger.db.base import Base, UtcDateTime, utc_now
from consent_ledger.errors import ConfigError


class DeploymentBinding(Base):
    """The deployment this database serves (one row)."""

    __tablename__ = "deployment_binding"

    id: Mapped[int] = mapped_column(Integer(), primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger())
    genesis_hash: Mapped[str | None] = mapped_column(String(66))  # None: bound before it was kept
    contract: Mapped[str] = mapped_column(String(42))
    bound_at: Mapped[datetime] = mapped_column(UtcDateTime())


def bind_deployment(sessions: sessionmaker[Session], chain_id: int, genesis_hash: str, contract: str) -> None:
    """Bind an unbound database to this deployment; refuse one bound to another (ConfigError, with advice).
    Replicas starting together race for the first bind: the loser reads the winner's row and compares."""
    try:
        _bind(sessions, chain_id, genesis_hash, contract)
    except IntegrityError:
        _bind(sessions, chain_id, genesis_hash, contract)


def _bind(sessions: sessionmaker[Session], chain_id: int, genesis_hash: str, contract: str) -> None:
    with sessions.begin() as session:
        row = session.get(DeploymentBinding, 1)
        if row is None:
            session.add(
                DeploymentBinding(
                    id=1, chain_id=chain_id, genesis_hash=genesis_hash, contract=contract, bound_at=utc_now()
                )
            )
            return
        refusal = _refusal(row.chain_id, row.genesis_hash, row.contract, chain_id, genesis_hash, contract)
        if refusal is not None:
            raise refusal
        if row.genesis_hash is None:
            row.genesis_hash = genesis_hash  # bound before genesis hashes were kept: this is its chain


def check_binding(sessions: sessionmaker[Session], chain_id: int, genesis_hash: str, contract: str) -> None:
    """`bind_deployment`'s refusal without writing anything, on a database of any schema (even none): run
    before migrating, so another deployment's database is refused before anything in it changes."""
    with sessions() as session:
        if not inspect(session.connection()).has_table(DeploymentBinding.__tablename__):
            return
        row = session.execute(text("SELECT * FROM deployment_binding WHERE id = 1")).mappings().one_or_none()
    if row is not None:
        refusal = _refusal(
            int(row["chain_id"]), row.get("genesis_hash"), str(row["contract"]), chain_id, genesis_hash, contract
        )
        if refusal is not None:
            raise refusal


def _refusal(
    bound_chain: int, bound_genesis: str | None, bound_contract: str, chain_id: int, genesis_hash: str, contract: str
) -> ConfigError | None:
    same_contract = bound_contract.lower() == contract.lower()
    same_chain = bound_chain == chain_id and (bound_genesis or genesis_hash).lower() == genesis_hash.lower()
    if same_chain and same_contract:
        return None
    bound = f"contract {bound_contract} on chain {bound_chain}"
    if bound_genesis:
        bound += f" (genesis {bound_genesis})"
    why = " — another chain with the same id, such as an earlier devnet or another node" if same_contract else ""
    return ConfigError(
        f"this database belongs to {bound}, but the deployment is {contract} on chain {chain_id} "
        f"(genesis {genesis_hash}){why}: point CONSENT_DATABASE_URL at a database for this deployment "
        "(or at a new one); the old database is left as it is"
    )
