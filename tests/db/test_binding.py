"""A database serves one deployment: chain id, genesis hash and contract. Another is refused with advice."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, update

from consent_ledger.db.binding import DeploymentBinding, bind_deployment
from consent_ledger.db.engine import make_session_factory
from consent_ledger.errors import ConfigError

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
GENESIS_A = "0x" + "aa" * 32
GENESIS_B = "0x" + "bb" * 32


def test_the_same_deployment_binds_again(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    bind_deployment(sessions, 31337, GENESIS_A, CONTRACT)
    bind_deployment(sessions, 31337, GENESIS_A.upper().replace("0X", "0x"), CONTRACT.lower())
    with sessions() as session:
        row = session.get(DeploymentBinding, 1)
        assert row is not None
        assert (row.chain_id, row.genesis_hash, row.contract) == (31337, GENESIS_A, CONTRACT)


def test_a_fresh_chain_with_the_same_id_and_address_is_refused(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    bind_deployment(sessions, 31337, GENESIS_A, CONTRACT)
    with pytest.raises(ConfigError) as refused:
        bind_deployment(sessions, 31337, GENESIS_B, CONTRACT)
    message = str(refused.value)
    assert GENESIS_A in message
    assert GENESIS_B in message
    assert "another chain with the same id" in message
    assert "CONSENT_DATABASE_URL" in message


@pytest.mark.parametrize(("chain_id", "contract"), [(31338, CONTRACT), (31337, "0x" + "11" * 20)])
def test_another_chain_or_contract_is_refused(engine: Engine, chain_id: int, contract: str) -> None:
    sessions = make_session_factory(engine)
    bind_deployment(sessions, 31337, GENESIS_A, CONTRACT)
    with pytest.raises(ConfigError, match="this database belongs to contract"):
        bind_deployment(sessions, chain_id, GENESIS_A, contract)


def test_a_binding_from_before_genesis_hashes_takes_the_chain_it_starts_on(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    bind_deployment(sessions, 31337, GENESIS_A, CONTRACT)
    with sessions.begin() as session:
        session.execute(update(DeploymentBinding).values(genesis_hash=None))
    bind_deployment(sessions, 31337, GENESIS_B, CONTRACT)
    with pytest.raises(ConfigError):
        bind_deployment(sessions, 31337, GENESIS_A, CONTRACT)


def test_replicas_binding_at_once_all_start(engine: Engine) -> None:
    """Several replicas on a fresh database race for the first bind: none fails."""
    barrier, errors = threading.Barrier(6), []

    def bind() -> None:
        sessions = make_session_factory(engine)
        barrier.wait()
        try:
            bind_deployment(sessions, 31337, GENESIS_A, CONTRACT)
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=bind) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
