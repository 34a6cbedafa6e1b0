"""A fresh devnet after a used one, through `make run`'s own steps (devnet start, deploy, seed) as real
processes: the fresh chain has the same id and, deployed by the same key, the contract at the same address,
yet it gets its own deployment record and database, seeding works, and the old deployment's record and
database are left byte for byte as they were; pointing the fresh chain at the old database is refused."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from consent_ledger.chain.devnet import free_port

pytestmark = pytest.mark.chain

CLI = [sys.executable, "-m", "consent_ledger.cli.main"]


class Steps:
    def __init__(self, root: Path) -> None:
        port = free_port()
        self.root = root
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
        self.env.update(
            {
                "CONSENT_VAR_DIR": str(root / "var"),
                "CONSENT_DEPLOYMENTS_DIR": str(root / "deployments"),
                "CONSENT_DEVNET_PORT": str(port),
                "CONSENT_RPC_URL": f"http://127.0.0.1:{port}",
            }
        )

    def run(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args], env={**self.env, **extra}, capture_output=True, text=True, timeout=300, check=False
        )

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self.run(*args)
        assert result.returncode == 0, f"{args}: {result.stderr}"
        return result

    def make_run_steps(self) -> dict[str, object]:
        """What `make run` does before serving."""
        self.ok("devnet", "start")
        deployment: dict[str, object] = json.loads(self.ok("deploy").stdout)
        self.ok("db", "upgrade")
        seeded = self.ok("seed")
        assert "seeded 3 brands" in seeded.stderr
        return deployment

    def databases(self) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (self.root / "var").glob("consent-*.db")}


def test_a_fresh_devnet_gets_its_own_deployment_and_database(tmp_path: Path) -> None:
    steps = Steps(tmp_path)
    try:
        old = steps.make_run_steps()
        steps.ok("devnet", "stop")
        old_records = {p.name: p.read_bytes() for p in (tmp_path / "deployments").glob("*.json")}
        old_databases = steps.databases()
        assert len(old_records) == 1
        assert len(old_databases) == 1

        # A fresh chain: the devnet's saved state is gone (as after `rm -r var/devnet`).
        (tmp_path / "var" / "devnet" / "state.json").unlink()
        time.sleep(1.05 - time.time() % 1)  # anvil's genesis carries its start second
        fresh = steps.make_run_steps()

        assert fresh["address"] == old["address"]  # same key, same nonce: the same address
        assert fresh["genesis_hash"] != old["genesis_hash"]
        records = {p.name: p.read_bytes() for p in (tmp_path / "deployments").glob("*.json")}
        assert len(records) == 2
        assert {name: records[name] for name in old_records} == old_records
        databases = steps.databases()
        assert len(databases) == 2
        assert {name: databases[name] for name in old_databases} == old_databases

        # The old database, pointed at explicitly, is refused with what to do, and not touched.
        (old_db,) = old_databases
        refused = steps.run("db", "upgrade", CONSENT_DATABASE_URL=f"sqlite:///{tmp_path / 'var' / old_db}")
        assert refused.returncode == 1
        assert "another chain with the same id" in refused.stderr
        assert "CONSENT_DATABASE_URL" in refused.stderr
        assert steps.databases()[old_db] == old_databases[old_db]
        # Seeding again on the fresh chain adds nothing and fails nothing.
        assert "0 new grants" in steps.ok("seed").stderr
    finally:
        steps.run("devnet", "stop")
