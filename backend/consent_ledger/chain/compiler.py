"""Compile the Solidity sources with py-solc-x, offline.

Compiler choice, first match wins: `CONSENT_SOLC` (an explicit binary), a native `solc` on PATH or
installed by py-solc-x whose version equals the pinned npm `solc`, then the solc-js facade
(`scripts/solc`, which needs `node` and `npm ci`). Matching versions keep the output identical
whichever compiler ran. Output is cached by a hash of sources, compiler version and settings.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import solcx
import solcx.exceptions
import solcx.install
import solcx.wrapper

from consent_ledger.errors import CompileError, ToolchainError

EVM_VERSION = "cancun"
OPTIMIZER_RUNS = 1_000_000
VIA_IR = True
OUTPUT_SELECTION = ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "evm.methodIdentifiers"]


@dataclass(frozen=True)
class Compiler:
    binary: Path
    version: str  # e.g. "0.8.30+commit.73712a01"


@dataclass(frozen=True)
class Artifact:
    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    compiler: str
    source_hash: str

    @property
    def abi_hash(self) -> str:
        return "0x" + hashlib.sha256(json.dumps(self.abi, sort_keys=True).encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {
            "contractName": self.name,
            "sourceName": self.source,
            "abi": self.abi,
            "bytecode": self.bytecode,
            "deployedBytecode": self.deployed_bytecode,
            "compiler": self.compiler,
            "sourceHash": self.source_hash,
            "abiHash": self.abi_hash,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Artifact:
        return cls(
            name=data["contractName"],
            source=data["sourceName"],
            abi=data["abi"],
            bytecode=data["bytecode"],
            deployed_bytecode=data["deployedBytecode"],
            compiler=data["compiler"],
            source_hash=data["sourceHash"],
        )


def pinned_solc_version(project_root: Path) -> str | None:
    """The solc version package.json pins (e.g. "0.8.30"), if any."""
    try:
        package = json.loads((project_root / "package.json").read_text())
    except (OSError, ValueError):
        return None
    version = package.get("dependencies", {}).get("solc")
    return str(version).lstrip("^~=") if version else None


def _version_of(binary: Path) -> str | None:
    try:
        return str(solcx.wrapper.get_solc_version(binary, with_commit_hash=True))
    except (OSError, solcx.exceptions.SolcError, ValueError):
        return None


def find_compiler(project_root: Path) -> Compiler:
    """Pick the compiler as the module docstring says, or explain how to get one."""
    explicit = os.environ.get("CONSENT_SOLC")
    if explicit:
        binary = Path(explicit).resolve()
        version = _version_of(binary)
        if version is None:
            raise ToolchainError(f"CONSENT_SOLC={explicit} does not answer `--version` like solc")
        return Compiler(binary, version)

    pinned = pinned_solc_version(project_root)
    natives: list[Path] = []
    on_path = shutil.which("solc")
    if on_path:
        natives.append(Path(on_path).resolve())
    with contextlib.suppress(solcx.exceptions.SolcNotInstalled):
        natives.extend(Path(str(solcx.install.get_executable(v))) for v in solcx.get_installed_solc_versions())
    for binary in natives:
        version = _version_of(binary)
        if version and pinned and version.split("+")[0] == pinned:
            return Compiler(binary, version)

    facade = (project_root / "scripts" / "solc").resolve()
    if not shutil.which("node"):
        raise ToolchainError("no solc found and `node` is not installed: install Node.js 20+, then `npm ci`")
    if not (project_root / "node_modules" / "solc").is_dir():
        raise ToolchainError("the npm package `solc` is missing: run `npm ci` in the project root")
    version = _version_of(facade)
    if version is None:
        raise ToolchainError(f"{facade} did not report a solc version")
    return Compiler(facade, version)


def _standard_input(sources: dict[str, str]) -> dict[str, Any]:
    return {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sorted(sources.items())},
        "settings": {
            "evmVersion": EVM_VERSION,
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "viaIR": VIA_IR,
            "outputSelection": {"*": {"*": OUTPUT_SELECTION}},
        },
    }


def collect_sources(root: Path, *dirs: Path) -> dict[str, str]:
    """Every .sol file under `dirs`, keyed by its path relative to `root` (its source unit name)."""
    sources: dict[str, str] = {}
    for directory in dirs:
        for file in sorted(directory.rglob("*.sol")):
            sources[file.relative_to(root).as_posix()] = file.read_text()
    if not sources:
        raise CompileError([f"no .sol files under {', '.join(str(d) for d in dirs)}"])
    return sources


def _line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of `offset`, which solc counts in UTF-8 bytes, not characters."""
    before = text.encode()[:offset].decode(errors="replace")
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


def _problems(errors: list[dict[str, Any]], sources: dict[str, str], severity: str) -> list[str]:
    lines = []
    for error in errors:
        if error.get("severity") != severity:
            continue
        location = error.get("sourceLocation") or {}
        file = location.get("file")
        where = "<input>"
        if file:
            start = int(location.get("start", 0))
            text = sources.get(file)
            line, col = _line_col(text, start) if text is not None and start >= 0 else (0, 0)
            where = f"{file}:{line}:{col}"
        lines.append(f"{where}: {severity}: {error.get('message', error.get('formattedMessage', ''))}")
    return lines


def source_hash(compiler: Compiler, sources: dict[str, str]) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(_standard_input(sources), sort_keys=True).encode())
    digest.update(compiler.version.encode())
    return "0x" + digest.hexdigest()


@dataclass(frozen=True)
class CompileResult:
    artifacts: dict[str, Artifact]
    warnings: list[str]
    cached: bool


def compile_sources(
    project_root: Path, sources: dict[str, str], build_dir: Path, compiler: Compiler | None = None
) -> CompileResult:
    """Compile `sources` (or reuse the cached build) and write one JSON artifact per contract."""
    compiler = compiler or find_compiler(project_root)
    fingerprint = source_hash(compiler, sources)
    cached = _load_cached(build_dir, fingerprint)
    if cached is not None:
        return CompileResult(cached, [], cached=True)

    node_modules = project_root / "node_modules"
    try:
        stdout, _stderr, _cmd, _proc = solcx.wrapper.solc_wrapper(
            solc_binary=compiler.binary,
            stdin=json.dumps(_standard_input(sources)),
            standard_json=True,
            base_path=str(project_root),
            include_path=str(node_modules),
            allow_paths=f"{project_root},{node_modules}",
        )
    except solcx.exceptions.SolcError as exc:
        raise ToolchainError(f"{compiler.binary} failed: {exc}") from exc
    output = json.loads(stdout)
    errors = output.get("errors", [])
    problems = _problems(errors, sources, "error")
    if problems:
        raise CompileError(problems)

    artifacts: dict[str, Artifact] = {}
    for source_name, contracts in output.get("contracts", {}).items():
        if source_name not in sources:
            continue  # libraries pulled in from node_modules
        for name, data in contracts.items():
            artifacts[name] = Artifact(
                name=name,
                source=source_name,
                abi=data["abi"],
                bytecode="0x" + data["evm"]["bytecode"]["object"],
                deployed_bytecode="0x" + data["evm"]["deployedBytecode"]["object"],
                compiler=compiler.version,
                source_hash=fingerprint,
            )
    _write(build_dir, fingerprint, artifacts)
    return CompileResult(artifacts, _problems(errors, sources, "warning"), cached=False)


def _write(build_dir: Path, fingerprint: str, artifacts: dict[str, Artifact]) -> None:
    build_dir.mkdir(parents=True, exist_ok=True)
    for name, artifact in artifacts.items():
        (build_dir / f"{name}.json").write_text(json.dumps(artifact.to_json(), indent=2, sort_keys=True) + "\n")
    index = {"sourceHash": fingerprint, "contracts": sorted(artifacts)}
    (build_dir / "index.json").write_text(json.dumps(index, indent=2) + "\n")


def _load_cached(build_dir: Path, fingerprint: str) -> dict[str, Artifact] | None:
    try:
        index = json.loads((build_dir / "index.json").read_text())
        if index.get("sourceHash") != fingerprint:
            return None
        return {
            name: Artifact.from_json(json.loads((build_dir / f"{name}.json").read_text()))
            for name in index["contracts"]
        }
    except (OSError, ValueError, KeyError):
        return None


def load_artifact(build_dir: Path, name: str) -> Artifact:
    """A compiled contract from the build folder (run `consent-ledger compile` first)."""
    path = build_dir / f"{name}.json"
    try:
        return Artifact.from_json(json.loads(path.read_text()))
    except FileNotFoundError as exc:
        raise ToolchainError(f"{path} not found: run `consent-ledger compile` first") from exc


def compile_project(project_root: Path, build_dir: Path) -> CompileResult:
    """Compile `contracts/` of the project into `build_dir` (cached)."""
    sources = collect_sources(project_root, project_root / "contracts")
    return compile_sources(project_root, sources, build_dir)
