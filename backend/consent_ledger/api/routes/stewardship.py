"""Public stewardship figures (no sign-in): one brand's page data as JSON or CSV, and several brands side by side.

The compare routes come first: `/compare` is not a brand address."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response

from consent_ledger.api.deps import ContextDep
from consent_ledger.api.openapi import EVERY_ROUTE, Router, problems
from consent_ledger.apimodels import stewardship
from consent_ledger.stewardship.comparison import MAX_BRANDS, MIN_BRANDS

router = Router(prefix="/v1/stewardship", tags=["public"], responses=problems(*EVERY_ROUTE, 422))
AsOfBlock = Annotated[
    int | None, Query(ge=0, le=2**63 - 1, description="count the chain up to this block (default: the latest)")
]

Brands = Annotated[
    list[str],
    Query(
        alias="brand",
        description=f"a brand address (0x and 40 hex digits), repeated: {MIN_BRANDS} to {MAX_BRANDS} distinct brands",
    ),
]
CSV_REPLY = {"content": {"text/csv": {"schema": {"type": "string"}}}}


@router.get("/compare", response_model=stewardship.Comparison)
def compare(brands: Brands, context: ContextDep, as_of: AsOfBlock = None) -> dict[str, Any]:
    """Several brands' figures side by side, each exactly what `GET /v1/stewardship/{brand}` answers, all counted
    up to one block (`as_of`, default: the latest when asked) so they can be compared. Too few or too many
    brands, a brand named twice or an invalid address is a 400 and nothing is read."""
    return context.stewardship.compare(brands, as_of)


@router.get(
    "/compare/figures.csv",
    response_class=Response,
    responses={200: {"description": "section,name,metric, then one column per brand", **CSV_REPLY}},
)
def compare_csv(brands: Brands, context: ContextDep, as_of: AsOfBlock = None) -> Response:
    """The comparison as one CSV table: a row per metric (section, name, metric), a column per brand in the order
    asked, as a download."""
    body = context.stewardship.compare_csv(brands, as_of)
    disposition = 'attachment; filename="stewardship-compare.csv"'
    return Response(body, media_type="text/csv", headers={"Content-Disposition": disposition})


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
