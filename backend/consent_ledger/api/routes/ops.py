"""For operators and load balancers: liveness, readiness, metrics. Open, and never a secret."""

from __future__ import annotations

from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse

from consent_ledger import __version__
from consent_ledger.api.deps import ContextDep
from consent_ledger.api.openapi import Router, problems
from consent_ledger.apimodels import public
from consent_ledger.errors import ChainError
from consent_ledger.observability.metrics import CONTENT_TYPE
from consent_ledger.redaction import redact_text

router = Router(tags=["operations"], responses=problems(400, 413, 500))  # never rate limited


@router.get(
    "/v1/health",
    response_model=public.Health,
    responses={503: {"model": public.Health, "description": "the chain does not answer"}},
)
def health(context: ContextDep) -> JSONResponse:
    """Is this replica alive and can it reach the chain: 200, or 503 when the node does not answer (within
    CONSENT_RPC_TIMEOUT; at once while the circuit is open). No database call. With the chain id and
    contract, which tell a wallet which network to use; never a URL's secret."""
    chain: dict[str, Any] = {"chain_id": context.deployment.chain_id, "contract": context.deployment.address}
    try:
        chain["block"] = context.ledger.rpc.block_number()
        chain["ok"] = True
    except ChainError as error:
        chain.update(ok=False, error=redact_text(str(error)))
    body = {"status": "ok" if chain["ok"] else "chain-unavailable", "version": __version__, "chain": chain}
    return JSONResponse(body, status_code=200 if chain["ok"] else 503)


@router.get(
    "/v1/ready",
    response_model=public.Readiness,
    responses={503: {"model": public.Readiness, "description": "the database or the chain cannot answer"}},
)
def ready(context: ContextDep) -> JSONResponse:
    """Readiness: 200 when the database and the chain answer, else 503; with the outbox depth and the
    age of its oldest waiting row, the indexer's lag in blocks, and the access log's last anchor."""
    readiness = context.readiness.check()
    return JSONResponse(readiness.to_json(), status_code=200 if readiness.ready else 503)


@router.get("/metrics", include_in_schema=False)
def metrics(context: ContextDep) -> Response:
    """Prometheus text format."""
    return Response(context.metrics.exposition(), media_type=CONTENT_TYPE)
