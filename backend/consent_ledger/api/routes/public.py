"""Open endpoints: catalog, brands (health and readiness: routes/ops.py)."""

from __future__ import annotations

from typing import Any

from consent_ledger.api.deps import ContextDep
from consent_ledger.api.openapi import EVERY_ROUTE, Router, problems
from consent_ledger.apimodels import public

router = Router(prefix="/v1", tags=["public"], responses=problems(*EVERY_ROUTE))


@router.get("/catalog", response_model=public.Catalog)
def catalog(context: ContextDep) -> dict[str, Any]:
    """Data categories and purposes with their bits and labels, and the privacy notice with its hash."""
    return context.catalog.to_json()


@router.get("/limits", response_model=public.Limits)
def limits(context: ContextDep) -> dict[str, Any]:
    """The longest grant the contract records (`MAX_GRANT_DURATION`), read from the contract."""
    return {
        "max_grant_seconds": context.ledger.max_grant_duration(),
        "max_grant_days": context.consents.max_days(),
    }


@router.get("/brands", response_model=public.Brands)
def brands(context: ContextDep) -> dict[str, Any]:
    """Registered brands."""
    return {"brands": [{"address": a, "name": n} for a, n in context.brands.all().items()]}
