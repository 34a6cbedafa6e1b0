"""Public stewardship figures (no sign-in): one brand's page data as JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response

from consent_ledger.api.deps import ContextDep
from consent_ledger.api.openapi import EVERY_ROUTE, Router, problems
from consent_ledger.apimodels import stewardship

router = Router(prefix="/v1/stewardship", tags=["public"], responses=problems(*EVERY_ROUTE, 422))
AsOfBlock = Annotated[
    int | None, Query(ge=0, le=2**63 - 1, description="count the chain up to this block (default: the latest)")
]


@router.get("/{brand}", response_model=stewardship.Stewardship)
def figures(brand: str, context: ContextDep, as_of: AsOfBlock = None) -> dict[str, Any]:
    """A brand's stewardship figures from the chain (its grant events, the anchors) and the anchored access log
    only: anyone can recompute them with `consent-ledger stewardship report`."""
    return context.stewardship.figures(brand, as_of)


@router.get(
    "/{brand}/figures.csv",
    response_class=Response,
    responses={
        200: {
            "description": "the same figures as CSV rows: section,name,metric,value",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
def figures_csv(brand: str, context: ContextDep, as_of: AsOfBlock = None) -> Response:
    """The same figures as one CSV table (section, name, metric, value), as a download."""
    body = context.stewardship.csv(brand, as_of)
    name = f"stewardship-{brand.lower()}.csv"
    return Response(body, media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})
