"""requirements.lock pins every dependency pyproject.toml names, and this environment runs those pins.

A dependency added to pyproject.toml without `make lock` fails here, so CI on a fresh clone never
installs something the lock does not cover; a hand-installed upgrade in .venv fails here too.
"""

from __future__ import annotations

import json
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _pins(name: str = "requirements.lock") -> list[Requirement]:
    """Every pin line; a package may be pinned twice, once per Python version range (markers differ)."""
    pins = []
    for line in (ROOT / name).read_text().splitlines():
        if not line or line[0] in " #":
            continue
        pins.append(Requirement(line.removesuffix("\\").strip()))
    return pins


def _locked(name: str = "requirements.lock") -> dict[str, Requirement]:
    """One pin per package: the one whose marker holds here when a package is pinned more than once."""
    pins: dict[str, Requirement] = {}
    for requirement in _pins(name):
        package = canonicalize_name(requirement.name)
        if package not in pins or requirement.marker is None or requirement.marker.evaluate():
            pins[package] = requirement
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = list(project["dependencies"]) + list(project["optional-dependencies"]["dev"])
    return [Requirement(name) for name in names]


def _pinned_version(requirement: Requirement) -> str:
    (specifier,) = requirement.specifier
    assert specifier.operator == "==", f"{requirement} is not an exact pin"
    return specifier.version


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    locked = _locked()
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement.name} is in pyproject.toml but not in requirements.lock: run `make lock`"
        version = _pinned_version(locked[name])
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {name}=={version}, outside pyproject.toml's {requirement}: run `make lock`"
        )


def test_every_pin_carries_a_hash() -> None:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    pins = [i for i, line in enumerate(lines) if line and line[0] not in " #"]
    assert len(pins) == len(_pins())
    unhashed = [lines[i] for i in pins if not lines[i + 1].strip().startswith("--hash=sha256:")]
    assert not unhashed, f"pins without a hash (pip would refuse the lock): {unhashed}"


def test_this_environment_runs_the_pinned_versions() -> None:
    differing = []
    for name, requirement in sorted(_locked().items()):
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        installed = metadata.version(name)
        if installed != _pinned_version(requirement):
            differing.append(f"{name} {installed} (lock: {_pinned_version(requirement)})")
    assert not differing, f"installed versions differ from requirements.lock, run `make setup`: {differing}"


def test_the_runtime_lock_pins_the_same_versions_for_the_runtime_dependencies() -> None:
    """requirements-runtime.lock (what an installed wheel needs) is the dev lock minus the dev tools."""
    runtime, full = _locked("requirements-runtime.lock"), _locked()
    assert {name: _pinned_version(r) for name, r in runtime.items()} == {
        name: _pinned_version(full[name]) for name in runtime
    }
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in map(Requirement, project["dependencies"]):
        assert canonicalize_name(requirement.name) in runtime, f"{requirement.name}: run `make lock`"
    assert not {"pytest", "mypy", "ruff", "playwright"} & runtime.keys(), "dev tools in the runtime lock"


def test_the_slither_lock_pins_the_slither_group_with_hashes_and_its_venv_runs_them() -> None:
    """Slither has its own lock (it needs web3 7) and its own virtualenv; both follow pyproject.toml."""
    group = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]["slither"]
    locked = _locked("requirements-slither.lock")
    for requirement in map(Requirement, group):
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement.name} is not in requirements-slither.lock: run `make lock`"
        assert requirement.specifier.contains(_pinned_version(locked[name])), f"{name}: run `make lock`"
    lines = (ROOT / "requirements-slither.lock").read_text().splitlines()
    pins = [i for i, line in enumerate(lines) if line and line[0] not in " #"]
    assert all(lines[i + 1].strip().startswith("--hash=sha256:") for i in pins)
    probe = "import importlib.metadata as m, json; print(json.dumps({d.name: d.version for d in m.distributions()}))"
    python = ROOT / ".venv" / "tools" / "slither" / "bin" / "python"
    shown = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True).stdout
    installed = {canonicalize_name(name): version for name, version in json.loads(shown).items()}
    differing = [
        f"{name} {installed.get(name)} (lock: {_pinned_version(r)})"
        for name, r in sorted(locked.items())
        if (r.marker is None or r.marker.evaluate()) and installed.get(name) != _pinned_version(r)
    ]
    assert not differing, f"the Slither venv differs from requirements-slither.lock, run `make setup`: {differing}"
