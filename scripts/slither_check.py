"""Slither over our contracts, compiled by our compiler facade; fails on any high or medium finding.

Usage: .venv/bin/python scripts/slither_check.py [--dependencies] [DIR ...]   (default: contracts)
(`make lint` runs it on contracts/; `--dependencies` also reports the findings inside OpenZeppelin,
which slither.config.json filters out with its reason.)

The sources under each DIR (recursively) go into one solc standard-JSON input with the settings of the
real build (consent_ledger.chain.compiler: EVM version, via-IR, optimizer), plus the AST Slither reads.
crytic-compile hands that input to `scripts/solc` (the solc-js facade: no native solc, no download) as
`--standard-json`; OpenZeppelin imports resolve from node_modules through a remapping. Slither runs from
its own virtualenv (.venv/tools/slither, `make setup`: it pins web3<8, we run web3 8) with
slither.config.json, which names every excluded detector with its reason.

Exit status: 0 when there is no high and no medium finding, 1 when there is, 2 when Slither is missing
or could not analyse (never a silent pass).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from consent_ledger.chain.compiler import EVM_VERSION, OPTIMIZER_RUNS, VIA_IR

ROOT = Path(__file__).resolve().parents[1]
SLITHER = Path(os.environ.get("CONSENT_SLITHER", ROOT / ".venv" / "tools" / "slither" / "bin" / "slither"))
FACADE = ROOT / "scripts" / "solc"
CONFIG = ROOT / "slither.config.json"
IMPACTS = ["High", "Medium", "Low", "Informational", "Optimization"]
FAILING = {"High", "Medium"}
REMAPPINGS = ["@openzeppelin/=node_modules/@openzeppelin/"]
OUTPUTS = ["abi", "evm.bytecode", "evm.deployedBytecode", "devdoc", "userdoc"]  # what crytic-compile reads


def source_name(file: Path) -> str:
    """Relative to the project root when inside it (as the real build names sources), else absolute."""
    try:
        return file.relative_to(ROOT).as_posix()
    except ValueError:
        return file.as_posix()


def standard_input(directories: list[Path]) -> dict[str, object]:
    sources = {
        source_name(file): {"content": file.read_text()}
        for directory in directories
        for file in sorted(directory.resolve().rglob("*.sol"))
    }
    if not sources:
        raise SystemExit(f"slither_check: no .sol files under {', '.join(map(str, directories))}")
    return {
        "language": "Solidity",
        "sources": sources,
        "settings": {
            "evmVersion": EVM_VERSION,
            "viaIR": VIA_IR,
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "remappings": REMAPPINGS,
            "outputSelection": {"*": {"*": OUTPUTS, "": ["ast"]}},
        },
    }


def run_slither(input_file: Path, results_file: Path, config: Path) -> subprocess.CompletedProcess[str]:
    command = [
        str(SLITHER),
        str(input_file),
        "--compile-force-framework",
        "solc-json",
        "--solc",
        str(FACADE),
        "--config-file",
        str(config),
        "--json",
        str(results_file),
        "--fail-none",  # we judge the findings ourselves, below; a crash still exits non-zero
    ]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directories", nargs="*", type=Path, default=[ROOT / "contracts"])
    parser.add_argument("--dependencies", action="store_true", help="report findings in node_modules too")
    args = parser.parse_args(argv)
    if not os.access(SLITHER, os.X_OK):
        print(f"slither_check: {SLITHER} is missing: run `make setup` (it installs Slither)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="slither-") as scratch:
        input_file, results_file = Path(scratch) / "input.json", Path(scratch) / "results.json"
        input_file.write_text(json.dumps(standard_input(args.directories)))
        config = CONFIG
        if args.dependencies:
            settings = json.loads(CONFIG.read_text())
            settings.pop("filter_paths", None)
            config = Path(scratch) / CONFIG.name
            config.write_text(json.dumps(settings))
        done = run_slither(input_file, results_file, config)
        try:
            report = json.loads(results_file.read_text())
        except (OSError, ValueError):
            report = {"success": False, "error": "no results"}
    if done.returncode != 0 or not report.get("success"):
        print(done.stderr, file=sys.stderr)
        print(f"slither_check: Slither failed ({report.get('error')}); exit code {done.returncode}", file=sys.stderr)
        return 2
    findings = report.get("results", {}).get("detectors", [])
    for finding in sorted(findings, key=lambda f: IMPACTS.index(f["impact"])):
        print(f"[{finding['impact']}/{finding['confidence']}] {finding['check']}: {finding['description'].strip()}")
    counts = Counter(finding["impact"] for finding in findings)
    analysed = re.search(r"\((\d+) contracts with (\d+) detectors\)", done.stderr)
    scope = f"{analysed[1]} contracts, {analysed[2]} detectors" if analysed else "detector count not reported"
    summary = ", ".join(f"{counts.get(impact, 0)} {impact.lower()}" for impact in IMPACTS)
    print(f"slither ({scope}; exclusions and their reasons: {CONFIG.name}): {summary}")
    return 1 if FAILING & counts.keys() else 0


if __name__ == "__main__":
    raise SystemExit(main())
