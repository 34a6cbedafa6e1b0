"""Brand endpoints: permission checks, releases and segments, always for the calling brand only."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from consent_ledger.api.deps import BrandDep, ContextDep
from consent_ledger.api.openapi import EVERY_ROUTE, SIGNED_IN, Router, problems
from consent_ledger.apimodels import base, brand
from consent_ledger.errors import InputError

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
def check(body: CheckBody, principal: BrandDep, context: ContextDep) -> dict[str, Any]:
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
def release(body: ReleaseBody, principal: BrandDep, context: ContextDep) -> dict[str, Any]:
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
def my_releases(principal: BrandDep, context: ContextDep, limit: int = 100) -> dict[str, Any]:
    """Your own release receipts."""
    return {"releases": context.releases.receipts_for(brand=principal.address, limit=min(max(limit, 1), 1000))}


@router.get("/segments", response_model=brand.Segment)
def segment(principal: BrandDep, context: ContextDep, categories: str, purpose: str) -> dict[str, Any]:
    """Customers who allow you all these categories (comma-separated) for this purpose, now."""
    names = [c.strip() for c in categories.split(",") if c.strip()]
    pin, customers = context.releases.segment(principal.address, names, purpose)
    return {
        "brand": principal.address,
        "block": {"number": pin.number, "hash": pin.hash, "timestamp": pin.timestamp},
        "customers": customers,
    }
