"""Recompute a brand's stewardship figures from a JSON-RPC endpoint and an exported access log only (what
`consent-ledger stewardship report` runs): no database, no API, nothing of ours to trust but the code."""

from __future__ import annotations

from typing import Any

from consent_ledger.audit.errors import AuditError
from consent_ledger.audit.export_file import LogFile
from consent_ledger.catalog import Catalog, default_catalog
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.errors import ChainError
from consent_ledger.stewardship.figures import compute, naming_of
from consent_ledger.stewardship.source import read_facts


def ordered_leaves(log: LogFile) -> list[bytes]:
    """The file's leaves in index order; `AuditError` when a line is missing, repeated or out of place."""
    leaves = []
    for position, (index, data) in enumerate(log.leaves):
        if index != position:
            raise AuditError(f"the log file has leaf {index} where leaf {position} belongs")
        leaves.append(data)
    return leaves


def recompute(
    rpc: RpcClient, log: LogFile, brand: str, as_of_block: int | None = None, catalog: Catalog | None = None
) -> dict[str, Any]:
    """Every figure of `brand`'s page, from the chain up to `as_of_block` (default: the latest) and `log`."""
    if rpc.chain_id() != log.chain_id:
        raise ChainError(f"the log is for chain {log.chain_id}, the RPC serves chain {rpc.chain_id()}")
    facts = read_facts(rpc, log.contract, log.custodian, brand, log.from_block, as_of_block)
    return compute(facts, ordered_leaves(log), naming_of(catalog or default_catalog()))
