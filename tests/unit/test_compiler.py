"""The compiler facade and `compile_sources`: real solc-js through py-solc-x, no chain needed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import solcx.wrapper

from consent_ledger.chain.compiler import (
    Compiler,
    compile_sources,
    find_compiler,
    load_artifact,
    pinned_solc_version,
)
from consent_ledger.errors import CompileError

ROOT = Path(__file__).resolve().parents[2]
FACADE = ROOT / "scripts" / "solc"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (ROOT / "node_modules" / "solc").is_dir(),
    reason="needs node and `npm ci` (solc-js)",
)

PROBE = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

contract Probe {
    event Seen(address signer);

    function signer(bytes32 digest, bytes calldata signature) external returns (address who) {
        who = ECDSA.recover(digest, signature);
        emit Seen(who);
    }
}
"""

TINY = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

contract Tiny {
    function answer() external pure returns (uint256) {
        return 42;
    }
}
"""


@pytest.fixture(scope="module")
def compiler() -> Compiler:
    """Found once per module: every test then compiles with the same binary and version."""
    return find_compiler(ROOT)


def _where(text: str, needle: str) -> tuple[int, int]:
    """1-based (line, column) of the first `needle` in `text`, counted in characters."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number, line.index(needle) + 1
    raise AssertionError(f"{needle!r} not in the source")


def test_facade_prints_a_solc_version() -> None:
    done = subprocess.run([str(FACADE), "--version"], capture_output=True, text=True, timeout=60, check=True)
    assert "Version: 0.8." in done.stdout


def test_py_solc_x_parses_the_facade_version() -> None:
    version = solcx.wrapper.get_solc_version(FACADE, with_commit_hash=True)
    assert (version.major, version.minor) == (0, 8)
    pinned = pinned_solc_version(ROOT)
    assert pinned is not None
    assert str(version).split("+")[0] == pinned


def test_compile_produces_an_artifact(tmp_path: Path, compiler: Compiler) -> None:
    build = tmp_path / "build"
    result = compile_sources(ROOT, {"contracts/Probe.sol": PROBE}, build, compiler)

    assert result.cached is False
    # Only our source unit: ECDSA (pulled in from node_modules) is not an artifact of ours.
    assert set(result.artifacts) == {"Probe"}
    probe = result.artifacts["Probe"]
    assert probe.source == "contracts/Probe.sol"
    assert {item.get("name") for item in probe.abi} >= {"signer", "Seen"}
    assert probe.bytecode.startswith("0x60")
    assert len(probe.bytecode) > 100
    assert probe.deployed_bytecode.startswith("0x")
    assert len(probe.deployed_bytecode) > 10
    assert probe.compiler == compiler.version
    assert re.fullmatch(r"0\.8\.\d+\+commit\.[0-9a-f]{8}", probe.compiler)
    assert re.fullmatch(r"0x[0-9a-f]{64}", probe.source_hash)
    assert re.fullmatch(r"0x[0-9a-f]{64}", probe.abi_hash)

    # The build folder holds the artifact and an index, and reads back identically.
    index = json.loads((build / "index.json").read_text())
    assert index == {"sourceHash": probe.source_hash, "contracts": ["Probe"]}
    assert load_artifact(build, "Probe") == probe


def test_second_compile_is_cached(tmp_path: Path, compiler: Compiler) -> None:
    build = tmp_path / "build"
    first = compile_sources(ROOT, {"contracts/Tiny.sol": TINY}, build, compiler)
    second = compile_sources(ROOT, {"contracts/Tiny.sol": TINY}, build, compiler)

    assert first.cached is False
    assert second.cached is True
    assert second.artifacts["Tiny"].source_hash == first.artifacts["Tiny"].source_hash
    assert second.artifacts == first.artifacts

    # A changed source misses the cache.
    changed = TINY.replace("return 42;", "return 43;")
    third = compile_sources(ROOT, {"contracts/Tiny.sol": changed}, build, compiler)
    assert third.cached is False
    assert third.artifacts["Tiny"].source_hash != first.artifacts["Tiny"].source_hash
    assert third.artifacts["Tiny"].bytecode != first.artifacts["Tiny"].bytecode


def test_syntax_error_names_file_line_and_column(tmp_path: Path, compiler: Compiler) -> None:
    broken = TINY.replace("return 42;", "return 42 +;")
    line, column = _where(broken, "+;")
    with pytest.raises(CompileError) as caught:
        compile_sources(ROOT, {"contracts/Broken.sol": broken}, tmp_path / "build", compiler)

    problems = caught.value.problems
    assert problems
    # solc points at the `;` that follows the dangling `+`.
    assert any(p.startswith(f"contracts/Broken.sol:{line}:{column + 1}:") for p in problems), problems
    assert "contracts/Broken.sol" in str(caught.value)
    assert not (tmp_path / "build" / "index.json").exists()


def test_error_position_counts_characters_not_bytes(tmp_path: Path, compiler: Compiler) -> None:
    """solc reports UTF-8 byte offsets; a comment full of non-ASCII text must not shift the line."""
    broken = TINY.replace(
        "contract Tiny {",
        "/// Zustimmung für die Datenübermittlung — “Einwilligung” ✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓\n"
        "contract Tiny { // données personnelles ✓",
    ).replace("return 42;", "return 42 +;")
    line, column = _where(broken, "+;")
    with pytest.raises(CompileError) as caught:
        compile_sources(ROOT, {"contracts/Broken.sol": broken}, tmp_path / "build", compiler)
    assert any(p.startswith(f"contracts/Broken.sol:{line}:{column + 1}:") for p in caught.value.problems), (
        caught.value.problems
    )


def test_missing_import_names_the_file(tmp_path: Path, compiler: Compiler) -> None:
    source = TINY.replace("contract Tiny", 'import "./DoesNotExist.sol";\n\ncontract Tiny')
    line, _ = _where(source, "DoesNotExist")
    with pytest.raises(CompileError) as caught:
        compile_sources(ROOT, {"contracts/Importer.sol": source}, tmp_path / "build", compiler)
    message = str(caught.value)
    assert "DoesNotExist.sol" in message
    assert any(p.startswith(f"contracts/Importer.sol:{line}:") for p in caught.value.problems)


def test_output_is_deterministic(tmp_path: Path, compiler: Compiler) -> None:
    one = compile_sources(ROOT, {"contracts/Probe.sol": PROBE}, tmp_path / "one", compiler)
    two = compile_sources(ROOT, {"contracts/Probe.sol": PROBE}, tmp_path / "two", compiler)
    assert one.cached is False
    assert two.cached is False  # a different build folder: really compiled twice
    assert one.artifacts["Probe"].bytecode == two.artifacts["Probe"].bytecode
    assert one.artifacts["Probe"].deployed_bytecode == two.artifacts["Probe"].deployed_bytecode
    assert (tmp_path / "one" / "Probe.json").read_text() == (tmp_path / "two" / "Probe.json").read_text()
