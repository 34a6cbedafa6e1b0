"""Installable without the checkout: the wheel (built as `make wheel` builds it), installed in a fresh
virtualenv outside the repository with the runtime lock, deploys, migrates and serves against a test
anvil and PostgreSQL with environment variables alone, using the contract shipped inside it (no compiler,
no sources, no node_modules)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from consent_ledger.chain.artifacts import contract_artifact
from consent_ledger.chain.compiler import Artifact, collect_sources, compile_sources
from consent_ledger.chain.devnet import Devnet, free_port
from waiting import START_TIMEOUT

pytestmark = pytest.mark.chain


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False, **kwargs)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result


def _build_wheel(project_root: Path, out: Path) -> Path:
    contract_artifact(project_root, project_root / "build" / "contracts")  # `make wheel`: compile first
    # As `make wheel` does: setuptools keeps files of earlier builds in build/lib and would ship them.
    for stale in [project_root / "build" / "lib", *(project_root / "build").glob("bdist.*")]:
        shutil.rmtree(stale, ignore_errors=True)
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(project_root)])
    (wheel,) = out.glob("consent_ledger-*.whl")
    return wheel


def _fresh_venv(project_root: Path, where: Path, wheel: Path) -> Path:
    _run([sys.executable, "-m", "venv", str(where)])
    python = where / "bin" / "python"
    uv = shutil.which("uv", path=str(Path(sys.executable).parent))
    lock = str(project_root / "requirements-runtime.lock")
    if uv:
        _run([uv, "pip", "install", "--quiet", "--python", str(python), "--require-hashes", "-r", lock])
        _run([uv, "pip", "install", "--quiet", "--python", str(python), "--no-deps", str(wheel)])
    else:
        _run([str(python), "-m", "pip", "install", "--quiet", "--require-hashes", "-r", lock])
        _run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)])
    return where / "bin"


def test_the_wheel_serves_outside_the_checkout(
    tmp_path: Path, project_root: Path, artifacts: dict[str, Artifact], pg_database: str
) -> None:
    wheel = _build_wheel(project_root, tmp_path / "dist")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        shipped = json.loads(archive.read("consent_ledger/chain/contract/ConsentLedger.json"))
    assert "consent_ledger/db/migrations/versions/0001_vault.py" in names
    assert not [n for n in names if n.endswith(".sol")]
    # The shipped contract is the one the sources compile to.
    sources = collect_sources(project_root, project_root / "contracts")
    expected = compile_sources(project_root, sources, project_root / "build" / "contracts").artifacts["ConsentLedger"]
    assert (shipped["abi"], shipped["bytecode"], shipped["sourceHash"]) == (
        expected.abi,
        expected.bytecode,
        expected.source_hash,
    )

    bin_dir = _fresh_venv(project_root, tmp_path / "venv", wheel)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    node = Devnet(project_root, tmp_path / "anvil", free_port(), persist=False)
    node.start()
    port = free_port()
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "CONSENT_ENV": "test",
        "CONSENT_RPC_URL": node.url,
        "CONSENT_DATABASE_URL": pg_database,
        "CONSENT_API_PORT": str(port),
    }
    cli = str(bin_dir / "consent-ledger")
    serve: subprocess.Popen[bytes] | None = None
    try:
        where = _run([str(bin_dir / "python"), "-c", "import consent_ledger; print(consent_ledger.__file__)"], env=env)
        assert where.stdout.startswith(str(tmp_path / "venv"))
        deployed = json.loads(_run([cli, "deploy"], env=env, cwd=outside).stdout)
        assert deployed["abi_hash"] == expected.abi_hash
        assert (outside / "deployments").is_dir()  # records live where it runs, not in site-packages
        refused = subprocess.run(
            [cli, "brand", "list"], env=env, cwd=outside, capture_output=True, text=True, check=False
        )
        assert refused.returncode == 1
        assert "consent-ledger db upgrade" in refused.stderr
        _run([cli, "db", "upgrade"], env=env, cwd=outside)
        with (tmp_path / "serve.log").open("wb") as log:
            serve = subprocess.Popen(
                [cli, "serve"], env=env, cwd=outside, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/v1/ready", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.2)
        assert ready.status_code == 200, ready.text
        health = httpx.get(f"http://127.0.0.1:{port}/v1/health").json()
        assert health["chain"]["contract"] == deployed["address"]
        catalog = httpx.get(f"http://127.0.0.1:{port}/v1/catalog").json()
        assert "contact.email" in {c["name"] for c in catalog["categories"]}
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200  # the wallet page ships too
    finally:
        if serve is not None and serve.poll() is None:
            os.killpg(serve.pid, 15)
            serve.wait(timeout=20)
        node.stop()
