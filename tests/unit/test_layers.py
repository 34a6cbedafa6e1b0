"""Imports run one way: each package imports only packages of lower layers (and itself).

The layers, top to bottom, as the README's layout section describes them. A new top-level module or
package must be placed here, so nobody adds one without deciding where it stands.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "backend" / "consent_ledger"

LAYERS: list[set[str]] = [
    {"cli"},
    {"bench"},
    {"api"},
    {"composition"},
    {"services"},
    {"webhooks"},
    {"propagation", "stewardship"},
    {"relayer", "audit", "indexer"},
    {"sender", "apikeys"},
    {"chain", "vault", "auth", "brands", "releases", "insights", "local_secrets", "leases"},
    {"db", "catalog", "config", "addresses", "workers", "observability", "ratelimit", "client"},
    {"errors", "domain", "redaction", "json_depth", "apimodels"},
]
RANK = {name: depth for depth, names in enumerate(LAYERS) for name in names}


def _imports(path: Path) -> set[str]:
    """Top-level consent_ledger names imported by `path` (absolute imports; the code uses no relative ones)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("consent_ledger."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.ImportFrom) and node.module == "consent_ledger":
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("consent_ledger."))
    return found


def _owner(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py")


def test_every_module_has_a_layer() -> None:
    owners = {_owner(p) for p in PACKAGE.rglob("*.py")} - {"__init__"}
    assert owners <= set(RANK), f"place these in LAYERS: {sorted(owners - set(RANK))}"


def test_imports_run_one_way() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        owner = _owner(path)
        if owner == "__init__":
            continue
        for target in sorted(_imports(path) - {owner, "__version__"}):
            if RANK.get(target, -1) <= RANK[owner]:
                wrong.append(f"{path.relative_to(PACKAGE)} imports consent_ledger.{target}")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)
