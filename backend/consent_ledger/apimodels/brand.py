"""The brand's endpoints."""

from __future__ import annotations

from consent_ledger.apimodels.base import Block, Reply


class CheckAnswers(Reply):
    brand: str
    block: Block
    answers: list[bool]


class Released(Reply):
    customer: str
    receipt_id: str
    categories: list[str]
    fields: dict[str, str]


class Withheld(Reply):
    customer: str
    reason: str


class Release(Reply):
    request_id: str
    brand: str
    purpose: str
    block: Block
    released: list[Released]
    withheld: list[Withheld]


class Segment(Reply):
    brand: str
    block: Block
    customers: list[str]


class InsightCell(Reply):
    bin: str | None = None
    count: int | None
    suppressed: bool


class InsightHistogram(Reply):
    category: str
    bins: list[InsightCell]


class InsightPrivacy(Reply):
    mechanism: str
    epsilon_spent: float
    epsilon_remaining: float
    period_start: str
    period_end: str
    noise_scale: float
    accuracy_95: float
    min_group_size: int


class InsightAnswer(Reply):
    query_id: str
    brand: str
    purpose: str
    block: Block
    total: InsightCell
    histograms: list[InsightHistogram]
    privacy: InsightPrivacy
    leaf_index: int


class InsightBudget(Reply):
    brand: str
    epsilon_per_query: float
    epsilon_per_period: float
    epsilon_spent: float
    epsilon_remaining: float
    period_start: str
    period_end: str
    min_group_size: int
