"""The base of every response model, and the problem document every error answers with (RFC 9457)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Reply(BaseModel):
    """A JSON response body: the declared fields, and any field a newer server adds."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Problem(Reply):
    """An error: `application/problem+json` (RFC 9457). `detail` says what to do."""

    type: str = Field(description="urn:consent-ledger:problem:<slug>")
    title: str
    status: int
    detail: str


class FieldProblem(Reply):
    location: str = Field(description="where in the request, dotted (e.g. body.questions.0.customer)")
    message: str


class ValidationProblem(Problem):
    """A request that does not match the schema (422), with each mismatch."""

    errors: list[FieldProblem]


class Block(Reply):
    """The block a decision was made at."""

    number: int
    hash: str
    timestamp: int | None = None


class AnchorOut(Reply):
    """An access-log root anchored on-chain."""

    size: int
    root: str
    custodian: str | None = None
    tx_hash: str | None = None
    block_number: int | None = None
    block_hash: str | None = None
    anchored_at: str


class NamedTerms(Reply):
    """One purpose of a grant by name, with the categories it may use."""

    purpose: str
    categories: list[str]


class HistoryItem(Reply):
    """One grant, revocation, rejection, anchor (`event-<id>`) or release (receipt id), in chain order."""

    id: str
    kind: str
    block_number: int
    timestamp: str
    customer: str | None = None
    brand: str | None = None
    tx_hash: str | None = None
    log_index: int | None = None
    block_hash: str | None = None
    sender: str | None = None
    terms: list[NamedTerms] | None = None
    categories: list[str] | None = None
    purposes: list[str] | None = None
    fields: list[str] | None = None
    expires_at: int | None = None
    notice_hash: str | None = None
    nonce: str | None = None
    reason: str | None = None
    custodian: str | None = None
    root: str | None = None
    size: int | None = None


class HistoryPage(Reply):
    items: list[HistoryItem]
    next: str | None = Field(description="pass back as `after` for the next page; null on the last page")


class ConsentReceipts(Reply):
    """Consent receipts (Kantara CR 1.1 / ISO/IEC TS 27560 fields), one per grant."""

    receipts: list[dict[str, object]]


class ReleaseReceipt(Reply):
    receipt_id: str
    request_id: str
    customer: str
    brand: str
    categories: list[str]
    purposes: list[str]
    fields: list[str]
    block: Block
    released_at: str


class ReleaseReceipts(Reply):
    releases: list[ReleaseReceipt]
    next: str | None = Field(
        default=None, description="(brand receipts) pass back as `after` for the next page; null on the last page"
    )
