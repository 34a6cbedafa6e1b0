"""Shared fixtures.

Chain: a real anvil per session on a free port, contracts compiled and deployed once, and each
test isolated by evm_snapshot / evm_revert.

Databases: `db_url` runs a test once on SQLite and once on PostgreSQL. PostgreSQL: a throwaway
database per test (`cl_test_<uuid>`), created through the admin URL (CONSENT_TEST_PG_ADMIN_URL,
default postgresql://postgres@127.0.0.1:5432/test) and dropped WITH (FORCE) afterwards. If
PostgreSQL is unreachable the tests FAIL: the PostgreSQL half of the suite is not optional.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from consent_ledger.catalog import default_catalog
from consent_ledger.chain.compiler import Artifact, collect_sources, compile_sources
from consent_ledger.chain.deploy import Deployment, ensure_deployed
from consent_ledger.chain.devnet import Devnet, free_port
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.chain.tx import TxSender
from consent_ledger.config import ANVIL_DEFAULT_KEY
from consent_ledger.db.engine import make_engine, make_session_factory
from consent_ledger.db.migrate import upgrade
from consent_ledger.vault import MasterKey, Vault
from waiting import START_TIMEOUT

ROOT = Path(__file__).resolve().parents[1]
# anvil's second default account: a relayer distinct from the deployer.
RELAYER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def artifacts() -> dict[str, Artifact]:
    """Our contracts plus the test-only ones, compiled once (cached across runs by source hash)."""
    sources = collect_sources(ROOT, ROOT / "contracts", ROOT / "tests" / "contracts")
    return compile_sources(ROOT, sources, ROOT / "build" / "test-contracts").artifacts


@pytest.fixture(scope="session")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    node = Devnet(ROOT, tmp_path_factory.mktemp("anvil"), free_port(), persist=False)
    node.start(timeout=START_TIMEOUT)
    yield node
    node.stop()


@dataclass
class Chain:
    rpc: RpcClient
    deployment: Deployment
    artifacts: dict[str, Artifact]
    deployments_dir: Path

    def ledger(self) -> Ledger:
        return Ledger(self.rpc, self.deployment.address, self.artifacts["ConsentLedger"].abi)

    def now(self) -> int:
        return int(self.rpc.get_block("latest")["timestamp"], 16)

    def travel(self, seconds: int) -> None:
        """Move chain time forward and mine a block."""
        self.rpc.request("evm_increaseTime", [seconds])
        self.rpc.request("evm_mine", [])

    def travel_to(self, timestamp: int) -> None:
        """Mine the next block at `timestamp` (which must be later than the latest block)."""
        self.rpc.request("evm_setNextBlockTimestamp", [timestamp])
        self.rpc.request("evm_mine", [])

    def fund(self, address: str, wei: int = 10**18) -> None:
        self.rpc.request("anvil_setBalance", [address, hex(wei)])


@pytest.fixture(scope="session")
def chain_session(devnet: Devnet, artifacts: dict[str, Artifact], tmp_path_factory: pytest.TempPathFactory) -> Chain:
    rpc = RpcClient(devnet.url)
    deployer = TxSender(rpc, ANVIL_DEFAULT_KEY)
    deployments_dir = tmp_path_factory.mktemp("deployments")
    deployment, _ = ensure_deployed(rpc, deployer, artifacts["ConsentLedger"], deployments_dir)
    return Chain(rpc, deployment, artifacts, deployments_dir)


@pytest.fixture
def chain(chain_session: Chain) -> Iterator[Chain]:
    """The session chain, rolled back after the test."""
    snapshot = chain_session.rpc.request("evm_snapshot")
    yield chain_session
    assert chain_session.rpc.request("evm_revert", [snapshot]) is True


@pytest.fixture
def ledger(chain: Chain) -> Ledger:
    return chain.ledger()


@pytest.fixture
def relayer(ledger: Ledger) -> TxSender:
    """A fresh sender per test (its nonce cache must not outlive an evm_revert)."""
    return ledger.sender(RELAYER_KEY)


# ---------------------------------------------------------------- databases

PG_ADMIN_URL = os.environ.get("CONSENT_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
PG_HOW_TO_START = (
    "PostgreSQL is not reachable at {url} ({error}). The db tests need it: start it with "
    "`pg_ctlcluster --skip-systemctl-redirect 15 main start` (or point CONSENT_TEST_PG_ADMIN_URL at a server "
    "where the user may CREATE DATABASE)."
)


def _admin_connection() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.fail(PG_HOW_TO_START.format(url=PG_ADMIN_URL, error=str(error).strip()), pytrace=False)


@pytest.fixture
def pg_admin_url() -> str:
    """A PostgreSQL URL whose user may CREATE DATABASE (for code under test that makes its own databases)."""
    _admin_connection().close()  # reachable, or the test fails saying how to start it
    return PG_ADMIN_URL


@pytest.fixture
def pg_database() -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database, dropped after the test."""
    name = f"cl_test_{uuid.uuid4().hex}"
    with _admin_connection() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with _admin_connection() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind (not migrated)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'consent.db'}"
    url: str = request.getfixturevalue("pg_database")
    return url


@pytest.fixture
def migrated_url(db_url: str) -> str:
    """`db_url` upgraded to the latest schema."""
    upgrade(db_url)
    return db_url


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def master_key() -> MasterKey:
    return MasterKey.generate()


@pytest.fixture
def vault(engine: Engine, master_key: MasterKey) -> Vault:
    return Vault(make_session_factory(engine), master_key, default_catalog())
