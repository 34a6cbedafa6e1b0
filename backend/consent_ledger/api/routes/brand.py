"""Brand endpoints: permission checks, releases, segments and aggregate insights, always for the calling brand only."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from consent_ledger.api.deps import (
    ContextDep,
    InsightsQuerierDep,
    PermissionsReaderDep,
    ReceiptsReaderDep,
    ReleaseRequesterDep,
)
from consent_ledger.api.openapi import EVERY_ROUTE, SIGNED_IN, Router, problems
from consent_ledger.apimodels import base, brand
from consent_ledger.errors import InputError
from consent_ledger.services.insights import HistogramSpec

router = Router(prefix="/v1", tags=["brand"], responses=problems(*EVERY_ROUTE, *SIGNED_IN, 422))
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")  # with fullmatch: `$` would let a trailing newline through


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer: str
    categories: list[str] = Field(min_length=1, max_length=64)
    purpose: str


class CheckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    questions: list[Question] = Field(min_length=1)


class ReleaseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customers: list[str] = Field(min_length=1)
    categories: list[str] = Field(min_length=1, max_length=64)
    purpose: str


@router.post("/permissions/check", response_model=brand.CheckAnswers)
def check(body: CheckBody, principal: PermissionsReaderDep, context: ContextDep) -> dict[str, Any]:
    """Up to 10,000 questions, answered from the contract's batch view at one pinned block."""
    limit = context.settings.max_check_questions
    if len(body.questions) > limit:
        raise InputError(f"{len(body.questions)} questions in one request; the limit is {limit}")
    catalog = context.catalog
    category_masks: dict[tuple[str, ...], int] = {}
    purpose_masks: dict[str, int] = {}
    rows = []
    for index, q in enumerate(body.questions):
        if not ADDRESS.fullmatch(q.customer):
            raise InputError(f"questions[{index}].customer is not an address: {q.customer[:50]!r}")
        key = tuple(q.categories)
        if key not in category_masks:
            category_masks[key] = catalog.category_mask(key)
        if q.purpose not in purpose_masks:
            purpose_masks[q.purpose] = catalog.purpose_mask([q.purpose])
        rows.append((q.customer, category_masks[key], purpose_masks[q.purpose]))
    result = context.gatekeeper.check(principal.address, rows)
    context.metrics.record_answers(result.answers)
    pin = result.pin
    return {
        "brand": principal.address,
        "block": {"number": pin.number, "hash": pin.hash, "timestamp": pin.timestamp},
        "answers": result.answers,
    }


@router.post("/releases", response_model=brand.Release)
def release(body: ReleaseBody, principal: ReleaseRequesterDep, context: ContextDep) -> dict[str, Any]:
    """For each customer, only the fields whose categories they granted you for this purpose."""
    for index, customer in enumerate(body.customers):
        if not ADDRESS.fullmatch(customer):
            raise InputError(f"customers[{index}] is not an address: {customer[:50]!r}")
    result = context.releases.release(
        principal.address, body.customers, body.categories, body.purpose, context.settings.max_release_customers
    )
    context.metrics.record_release(len(result.released), len(result.withheld))
    return result.to_json()


@router.get("/releases", response_model=base.ReleaseReceipts)
def my_releases(
    principal: ReceiptsReaderDep, context: ContextDep, limit: int = 100, after: str | None = None
) -> dict[str, Any]:
    """Your own release receipts, newest first, `limit` (1 to 1,000) a page; pass `next` back as `after`."""
    page, following = context.releases.receipts_page(principal.address, min(max(limit, 1), 1000), after)
    return {"releases": page, "next": following}


@router.get("/segments", response_model=brand.Segment)
def segment(principal: PermissionsReaderDep, context: ContextDep, categories: str, purpose: str) -> dict[str, Any]:
    """Customers who allow you all these categories (comma-separated) for this purpose, now."""
    names = [c.strip() for c in categories.split(",") if c.strip()]
    pin, customers = context.releases.segment(principal.address, names, purpose)
    return {
        "brand": principal.address,
        "block": {"number": pin.number, "hash": pin.hash, "timestamp": pin.timestamp},
        "customers": customers,
    }


class HistogramBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: str = Field(description="a vault category, e.g. demographic.age_range or interests")
    bins: list[str] = Field(
        min_length=1,
        max_length=50,
        description="the values to count, named by you in advance (e.g. 18-24, 25-34): values outside them "
        "are not counted, and which values exist is never revealed",
    )
    contributions: int = Field(
        default=1,
        ge=1,
        le=50,
        description="how many bins one customer may count in (multi-valued fields such as interests); "
        "the noise grows with it",
    )


class InsightBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: str = Field(description="one catalog purpose, e.g. tcf.audience_statistics")
    epsilon: float = Field(gt=0, description="privacy cost of this query, charged to your budget")
    histograms: list[HistogramBody] = Field(min_length=1, max_length=8)


INSIGHTS_DOC = """Counts and histograms over the customers whose on-chain grant, at one pinned block, covers
**every** asked category for this purpose. No record and no address leaves: only noisy aggregates.

**What you get.** `total`: consenting customers holding data in these categories. Per histogram, one
count per bin you named. Every count carries discrete Laplace noise (OpenDP) of scale
`(1 + sum of contributions) / epsilon`, shown as `privacy.noise_scale`: one customer can move the total
by 1 and each histogram by at most its `contributions`, and the noise hides that move. `privacy.accuracy_95`
is the distance within which the true count lies with 95% probability. The noise is fresh at every
query, can be negative as well as positive, and is never seeded.

**What the noise means for small groups.** The noise does not depend on the group's size: it is the same
±`accuracy_95` on a count of 5 as on a count of 50,000. At epsilon 1 with one histogram (scale 2) a count
is off by up to about 6 in 95% of queries: a group of 10 may come back as 4 or 16, which says little,
while a group of 10,000 comes back within 0.06%. A noisy count below the minimum group size
(`privacy.min_group_size`, setting `CONSENT_INSIGHT_MIN_GROUP_SIZE`) is suppressed: `count` is null and
`suppressed` true. Suppressed means "the noisy count was small", **not zero**: the true group may be
empty, or a little above the minimum and pushed below it by the noise. Suppression is decided on the
noisy count, so it reveals nothing the noisy count would not. Bins that are too narrow make every group
small: ask for fewer, wider bins rather than raising epsilon.

**Choosing epsilon.** Smaller epsilon means more privacy for your customers and more noise for you.
`accuracy_95` is about `3 * (1 + sum of contributions) / epsilon`. Decide how small a group you need to
read and how far off you can bear it to be, then take the smallest epsilon that gets there; the table
gives `accuracy_95` (± customers) for a query with one histogram of contributions 1 (sensitivity 2) and
one with an age histogram plus an interests histogram of contributions 2 (sensitivity 4):

| epsilon | scale, sensitivity 2 | ± 95%, sensitivity 2 | scale, sensitivity 4 | ± 95%, sensitivity 4 |
| ---: | ---: | ---: | ---: | ---: |
| 0.1 | 20 | 60.4 | 40 | 120.3 |
| 0.25 | 8 | 24.5 | 16 | 48.4 |
| 0.5 | 4 | 12.5 | 8 | 24.5 |
| 1 | 2 | 6.4 | 4 | 12.5 |

For example, to read groups of about 100 customers within ±10% with one histogram, epsilon 0.75 is
enough (± about 8.4); groups of 20 would take epsilon 4 (± about 1.8), above the default cap: widen
the bins instead. Ask
for all the histograms you need in one query rather than one query each (one query pays once for all its
counts, though each extra histogram adds to the sensitivity); repeating a query to average the noise away
costs budget each time, which is exactly what the budget limits. Epsilon per query is capped
(`CONSENT_INSIGHT_EPSILON_PER_QUERY`) and each brand may spend `CONSENT_INSIGHT_EPSILON_PER_PERIOD` per
period (`CONSENT_INSIGHT_PERIOD_SECONDS`); `GET /v1/insights/budget` shows what is left. A query the
budget cannot pay for is refused with 429 `privacy-budget-spent` and `epsilon_remaining` and
`period_end` in the problem body, and nothing is charged. The brand console's "Insights" section
(`/brand.html`) shows this noise scale, accuracy and cost for the epsilon you type before you ask.

**Audit.** Each query is a leaf of the access log (brand, categories, purpose, block, epsilon charged,
never a count or a customer), written in the same transaction as the charge: the answer exists only
if both are committed; `leaf_index` is its place in the log."""


@router.post("/insights", description=INSIGHTS_DOC, response_model=brand.InsightAnswer)
def insights(body: InsightBody, principal: InsightsQuerierDep, context: ContextDep) -> dict[str, Any]:
    specs = [HistogramSpec(h.category, h.bins, h.contributions) for h in body.histograms]
    return context.insights.query(principal.address, body.purpose, specs, body.epsilon).to_json()


@router.get("/insights/budget", response_model=brand.InsightBudget)
def insight_budget(principal: InsightsQuerierDep, context: ContextDep) -> dict[str, Any]:
    """Your privacy budget in the current period: spent, remaining, when it renews, the per-query cap."""
    return context.insights.budget(principal.address)
