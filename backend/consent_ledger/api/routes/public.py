"""Open endpoints: catalog, brands (health and readiness: routes/ops.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from consent_ledger.api.deps import ContextDep

router = APIRouter(prefix="/v1", tags=["public"])


@router.get("/catalog")
def catalog(context: ContextDep) -> dict[str, Any]:
    """Data categories and purposes with their bits and labels, and the privacy notice with its hash."""
    return context.catalog.to_json()


@router.get("/limits")
def limits(context: ContextDep) -> dict[str, Any]:
    """The longest grant the contract records (`MAX_GRANT_DURATION`), read from the contract."""
    return {
        "max_grant_seconds": context.ledger.max_grant_duration(),
        "max_grant_days": context.consents.max_days(),
    }


@router.get("/brands")
def brands(context: ContextDep) -> dict[str, Any]:
    """Registered brands."""
    return {"brands": [{"address": a, "name": n} for a, n in context.brands.all().items()]}
