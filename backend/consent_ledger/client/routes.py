"""The routes the client calls, each with the response model the server declares for it (one class,
imported from consent_ledger.apimodels by both; tests/unit/test_client_models.py checks each against the
app)."""

from __future__ import annotations

from dataclasses import dataclass

from consent_ledger.apimodels import base, brand
from consent_ledger.apimodels.base import Reply


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    model: type[Reply]
    status: int = 200


CHECK = Route("POST", "/v1/permissions/check", brand.CheckAnswers)
SEGMENT = Route("GET", "/v1/segments", brand.Segment)
RELEASE = Route("POST", "/v1/releases", brand.Release)
RECEIPTS = Route("GET", "/v1/releases", base.ReleaseReceipts)
INSIGHT_BUDGET = Route("GET", "/v1/insights/budget", brand.InsightBudget)

ROUTES = (CHECK, SEGMENT, RELEASE, RECEIPTS, INSIGHT_BUDGET)
