"""Open endpoints: catalog, brands, health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from consent_ledger.api.deps import ContextDep
from consent_ledger.errors import ChainError
from consent_ledger.redaction import redact_text

router = APIRouter(prefix="/v1", tags=["public"])


@router.get("/catalog")
def catalog(context: ContextDep) -> dict[str, Any]:
    """Data categories and purposes with their bits and labels, and the privacy notice with its hash."""
    return context.catalog.to_json()


@router.get("/brands")
def brands(context: ContextDep) -> dict[str, Any]:
    """Registered brands."""
    return {"brands": [{"address": a, "name": n} for a, n in context.brands.all().items()]}


@router.get("/health")
def health(context: ContextDep) -> dict[str, Any]:
    """Chain head, contract, and relayer queue. Chain trouble shows here without failing the call."""
    chain: dict[str, Any] = {"chain_id": context.deployment.chain_id, "contract": context.deployment.address}
    try:
        chain["block"] = context.ledger.rpc.block_number()
        chain["ok"] = True
    except ChainError as error:
        chain.update(ok=False, error=redact_text(str(error)))
    return {"chain": chain, "outbox": context.outbox.counts()}
