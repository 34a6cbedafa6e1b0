"""The contract's ABI and bytecode as package data, so an installed wheel deploys and calls the contract
without a compiler, the sources or node_modules.

`consent-ledger compile` (and `make wheel`, which runs it first) writes the compiled ConsentLedger into
`consent_ledger/chain/contract/`, next to this file; the wheel ships that folder. In a checkout the
sources stay the truth: `contract_artifact` compiles them (cached) and refreshes the packaged copy.
"""

from __future__ import annotations

import json
from pathlib import Path

from consent_ledger.chain.compiler import Artifact, compile_project
from consent_ledger.chain.deploy import CONTRACT_NAME
from consent_ledger.errors import ToolchainError

PACKAGED_DIR = Path(__file__).resolve().parent / "contract"


def packaged_path(name: str = CONTRACT_NAME) -> Path:
    return PACKAGED_DIR / f"{name}.json"


def packaged_artifact(name: str = CONTRACT_NAME) -> Artifact | None:
    """The artifact shipped in the package, or None when this installation has none."""
    try:
        return Artifact.from_json(json.loads(packaged_path(name).read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError) as error:
        raise ToolchainError(f"{packaged_path(name)} is not a contract artifact ({error}): reinstall") from error


def write_packaged(artifact: Artifact) -> None:
    PACKAGED_DIR.mkdir(exist_ok=True)
    path = packaged_path(artifact.name)
    text = json.dumps(artifact.to_json(), indent=2, sort_keys=True) + "\n"
    if not path.is_file() or path.read_text() != text:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)


def in_checkout(project_root: Path) -> bool:
    return (project_root / "contracts").is_dir()


def contract_artifact(project_root: Path, build_dir: Path) -> Artifact:
    """ConsentLedger compiled from the checkout's sources (refreshing the packaged copy), or, installed
    without a checkout, the packaged copy."""
    if in_checkout(project_root):
        artifact = compile_project(project_root, build_dir).artifacts[CONTRACT_NAME]
        write_packaged(artifact)
        return artifact
    packaged = packaged_artifact()
    if packaged is None:
        raise ToolchainError(
            f"this installation ships no contract artifact ({packaged_path()}) and {project_root} is not a checkout: "
            "install a wheel built with `make wheel`, or run from the repository"
        )
    return packaged
