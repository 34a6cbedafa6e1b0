"""Auditor endpoints: the log, its proofs, the history, exports, consent receipts, verification."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from fastapi import Response

from consent_ledger.api.deps import AuditorDep, ContextDep, PrincipalDep
from consent_ledger.api.openapi import EVERY_ROUTE, SIGNED_IN, Router, problems
from consent_ledger.apimodels import audit, base, propagation
from consent_ledger.errors import InputError

router = Router(prefix="/v1/audit", tags=["audit"], responses=problems(*EVERY_ROUTE, *SIGNED_IN))
CSV_COLUMNS = [
    "kind",
    "block_number",
    "timestamp",
    "tx_hash",
    "customer",
    "brand",
    "categories",
    "purposes",
    "terms",
    "fields",
    "expires_at",
    "reason",
    "size",
    "root",
    "id",
]


def _csv_cell(value: Any) -> Any:
    """Lists as `a;b`; a grant's terms as `purpose=category,category;purpose=category`."""
    if not isinstance(value, list):
        return value
    return ";".join(f"{v['purpose']}={','.join(v['categories'])}" if isinstance(v, dict) else str(v) for v in value)


def _kinds(kind: str | None) -> list[str] | None:
    return [k.strip() for k in kind.split(",") if k.strip()] if kind else None


@router.get("/tree-head", response_model=audit.TreeHead)
def tree_head(_: PrincipalDep, context: ContextDep) -> dict[str, Any]:
    """The latest anchored tree head (its root is on-chain: check it with the contract's rootAt)."""
    return context.audit.tree_head()


@router.get("/leaves/{index}", response_model=audit.LeafProof, responses=problems(404, 422))
def leaf(index: int, _: AuditorDep, context: ContextDep, size: int | None = None) -> dict[str, Any]:
    """A leaf with its inclusion proof to an anchored root (the latest, or the anchor at `size`)."""
    return context.audit.leaf_proof(index, size)


@router.get("/consistency", response_model=audit.ConsistencyProof, responses=problems(404, 422))
def consistency(first: int, second: int, _: AuditorDep, context: ContextDep) -> dict[str, Any]:
    """A consistency proof between two anchored sizes."""
    return context.audit.consistency(first, second)


@router.get("/history", response_model=base.HistoryPage, responses=problems(422))
def history(
    _: AuditorDep,
    context: ContextDep,
    customer: str | None = None,
    brand: str | None = None,
    kind: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Grants, revocations, rejections, anchors and releases in chain order; `kind` is comma-separated."""
    return context.audit.history(customer=customer, brand=brand, kinds=_kinds(kind), after=after, limit=limit)


@router.get(
    "/export",
    response_class=Response,
    responses={
        200: {
            "description": "the history as a download: JSON (`format=json`) or CSV (`format=csv`)",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Export"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        **problems(422),
    },
)
def export(
    _: AuditorDep,
    context: ContextDep,
    format: str = "json",
    customer: str | None = None,
    brand: str | None = None,
    kind: str | None = None,
) -> Response:
    """The whole filtered history as a JSON or CSV download."""
    items = context.audit.all_history(customer=customer, brand=brand, kinds=_kinds(kind))
    if format == "json":
        body = json.dumps({"items": items}, indent=1)
        return Response(body, media_type="application/json", headers=_attachment("history.json"))
    if format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for item in items:
            writer.writerow({k: _csv_cell(v) for k, v in item.items()})
        return Response(out.getvalue(), media_type="text/csv", headers=_attachment("history.csv"))
    raise InputError("format must be json or csv")


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get("/consent-receipts", response_model=base.ConsentReceipts, responses=problems(422))
def consent_receipts(_: AuditorDep, context: ContextDep, customer: str | None = None) -> dict[str, Any]:
    return {"receipts": context.audit.consent_receipts(customer)}


@router.get("/unacknowledged", response_model=propagation.Unacknowledged)
def unacknowledged(_: AuditorDep, context: ContextDep) -> dict[str, Any]:
    """Brands that still owe an acknowledgement of a revocation or erasure (or were never told of one owed
    to them, having received the customer's data), and how long each has waited, longest first."""
    return context.notices.unacknowledged()


@router.get("/verification", response_model=audit.Verification, responses=problems(404))
def last_verification(_: AuditorDep, context: ContextDep) -> dict[str, Any]:
    return context.audit.verification()


@router.post("/verification", response_model=audit.Verification)
def verify_now(_: AuditorDep, context: ContextDep) -> dict[str, Any]:
    """Anchor pending leaves, then run the independent verifier (log + chain) and keep its result."""
    return context.audit.verify_now()
