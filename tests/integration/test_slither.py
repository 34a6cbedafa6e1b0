"""The Slither gate of `make lint` (scripts/slither_check.py): it runs, it can fail, it cannot be skipped,
and what it leaves out is only low or informational, each with its reason.

`make lint` (part of `make test`) runs the check on contracts/ itself: zero high and zero medium findings.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "scripts" / "slither_check.py"
SLITHER = ROOT / ".venv" / "tools" / "slither" / "bin" / "slither"
CONFIG = json.loads((ROOT / "slither.config.json").read_text())

HEADER = "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\n\n"
HIGH = (
    HEADER
    + """contract Drain {
    /// @notice Anyone may send the whole balance anywhere (arbitrary-send-eth: high).
    function pay(address payable to) external {
        to.transfer(address(this).balance);
    }
}
"""
)
MEDIUM = (
    HEADER
    + """contract Origin {
    error NotOwner(address caller);

    address private immutable owner = msg.sender;
    uint256 private count;

    /// @notice Authorises by tx.origin (tx-origin: medium).
    function bump() external {
        if (tx.origin != owner) revert NotOwner(msg.sender);
        count += 1;
    }
}
"""
)


def _check(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECK), *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize(
    ("source", "detector", "counts"),
    [(HIGH, "arbitrary-send-eth", "1 high, 0 medium"), (MEDIUM, "tx-origin", "0 high, 1 medium")],
)
def test_a_high_or_a_medium_finding_fails_the_check(tmp_path: Path, source: str, detector: str, counts: str) -> None:
    (tmp_path / "Vulnerable.sol").write_text(source)
    done = _check(str(tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"] {detector}: " in done.stdout
    assert f": {counts}, " in done.stdout, done.stdout


def test_a_missing_slither_fails_the_check_instead_of_skipping_it() -> None:
    done = _check(CONSENT_SLITHER="/nonexistent/slither")
    assert done.returncode == 2
    assert "/nonexistent/slither is missing: run `make setup`" in done.stderr


def test_source_that_does_not_compile_fails_the_check(tmp_path: Path) -> None:
    (tmp_path / "Broken.sol").write_text("pragma solidity ^0.8.24;\ncontract Broken { function f( }\n")
    done = _check(str(tmp_path))
    assert done.returncode == 2
    assert "Slither failed" in done.stderr


def test_the_lint_step_runs_the_check_on_contracts() -> None:
    planned = subprocess.run(
        ["make", "-n", "--no-print-directory", "lint"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "scripts/slither_check.py contracts" in planned.stdout


def test_only_low_or_informational_detectors_are_excluded_each_with_its_reason() -> None:
    listed = subprocess.run([str(SLITHER), "--list-detectors-json"], capture_output=True, text=True, check=True)
    impact = {detector["check"]: detector["impact"] for detector in json.loads(listed.stdout)}
    excluded = CONFIG["detectors_to_exclude"].split(",")
    reasons = CONFIG["exclusion_reasons"]
    for check in excluded:
        assert check in impact, f"{check} is not a Slither detector"
        assert impact[check] in {"Low", "Informational", "Optimization"}, f"{check} is {impact[check]}: never excluded"
        assert reasons.get(check, "").startswith(impact[check]), f"{check}: the reason must name its impact"
    assert set(reasons) == {*excluded, CONFIG["filter_paths"]}, "a reason without an exclusion, or the reverse"
    for flag in ("exclude_high", "exclude_medium", "exclude_dependencies", "detectors_to_include"):
        assert flag not in CONFIG


def test_inline_suppressions_in_the_contracts_name_one_detector_and_say_why() -> None:
    comments = [
        (file.name, line.strip())
        for file in (ROOT / "contracts").rglob("*.sol")
        for line in file.read_text().splitlines()
        if "slither-disable" in line
    ]
    for name, comment in comments:
        assert re.fullmatch(r"// slither-disable-next-line [a-z0-9-]+ \(.+\)", comment), f"{name}: {comment}"
        assert " all " not in comment
