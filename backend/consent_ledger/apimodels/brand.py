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
