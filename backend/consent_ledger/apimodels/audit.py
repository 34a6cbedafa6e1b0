"""The auditor's endpoints."""

from __future__ import annotations

from pydantic import Field

from consent_ledger.apimodels.base import AnchorOut, HistoryItem, Reply


class TreeHead(Reply):
    chain_id: int
    contract: str
    custodian: str
    log_size: int
    anchored: AnchorOut | None


class LeafProof(Reply):
    index: int
    leaf: str
    leaf_hash: str
    size: int
    root: str
    proof: list[str]


class ConsistencyProof(Reply):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


class Export(Reply):
    items: list[HistoryItem]


class VerificationSummary(Reply):
    ok: bool
    status: str


class Verification(Reply):
    ran_at: str
    ok: bool
    summary: VerificationSummary
    violations: list[dict[str, object]]
    unverified: list[dict[str, object]]
    unacknowledged: list[dict[str, object]] = Field(default_factory=list)
