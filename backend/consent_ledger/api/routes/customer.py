"""The customer's own grants, submissions and data. A customer only ever sees their own."""

from __future__ import annotations

from typing import Any

from fastapi import Response, status
from pydantic import BaseModel, ConfigDict, Field

from consent_ledger.api.deps import ContextDep, CustomerDep
from consent_ledger.api.openapi import EVERY_ROUTE, SIGNED_IN, Router, problems
from consent_ledger.apimodels import base, customer, propagation
from consent_ledger.errors import InputError, NotFoundError

router = Router(prefix="/v1/me", tags=["customer"], responses=problems(*EVERY_ROUTE, *SIGNED_IN))

Names = list[str]


class PurposeDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: str = Field(max_length=64, description="a purpose's name (GET /v1/catalog)")
    categories: Names = Field(min_length=1, max_length=64, description="the data categories allowed for it")


class GrantDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")
    brand: str = Field(max_length=42)
    terms: list[PurposeDraft] | None = Field(
        default=None, min_length=1, max_length=64, description="per purpose, the data categories it may use"
    )
    categories: Names | None = Field(
        default=None, min_length=1, max_length=64, description="with `purposes`: the same data for each purpose"
    )
    purposes: Names | None = Field(default=None, min_length=1, max_length=64)
    days: int | None = Field(default=None, ge=1, description="at most the contract's MAX_GRANT_DURATION in days")
    expires_at: int | None = Field(default=None, ge=0)

    def allow(self) -> list[tuple[str, list[str]]]:
        """(purpose, categories) pairs, from `terms`, or from `categories` x `purposes`."""
        if self.terms is not None:
            if self.categories is not None or self.purposes is not None:
                raise InputError("give either terms, or categories with purposes, not both")
            return [(t.purpose, t.categories) for t in self.terms]
        if self.categories is None or self.purposes is None:
            raise InputError("give terms (per purpose, the data it may use), or categories with purposes")
        return [(p, self.categories) for p in self.purposes]


class RevokeDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")
    brand: str = Field(max_length=42)


class SignedMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="grant | revoke")
    message: dict[str, Any] = Field(description="the `message` of the typed data that was signed")
    signature: str = Field(max_length=4200)


class FieldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: str = Field(max_length=64)
    value: str


class DataIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fields: dict[str, FieldIn] = Field(min_length=1, max_length=64)


@router.post("/typed-data/grant", response_model=customer.GrantTypedData, responses=problems(409, 422))
def grant_typed_data(body: GrantDraft, principal: CustomerDep, context: ContextDep) -> dict[str, Any]:
    """The EIP-712 typed data to sign with `eth_signTypedData_v4` (current nonce filled in)."""
    return context.consents.grant_typed_data(principal.address, body.brand, body.allow(), body.days, body.expires_at)


@router.post("/typed-data/revoke", response_model=customer.RevokeTypedData, responses=problems(409, 422))
def revoke_typed_data(body: RevokeDraft, principal: CustomerDep, context: ContextDep) -> dict[str, Any]:
    return context.consents.revoke_typed_data(principal.address, body.brand)


@router.post(
    "/submissions",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=customer.Submission,
    responses={
        200: {
            "model": customer.Submission,
            "description": "this very message was accepted before: the same submission",
        },
        **problems(409, 422),
    },
)
def submit(body: SignedMessage, principal: CustomerDep, context: ContextDep, response: Response) -> dict[str, Any]:
    """Accept a signed grant or revocation: checked now, stored durably, relayed on-chain shortly."""
    submission, created = context.consents.submit(principal.address, body.kind, body.message, body.signature)
    if created:
        context.metrics.submissions.labels(body.kind).inc()
    else:
        response.status_code = status.HTTP_200_OK
    return submission.to_json()


@router.get("/submissions", response_model=customer.Submissions)
def submissions(principal: CustomerDep, context: ContextDep) -> dict[str, Any]:
    return {"submissions": [s.to_json() for s in context.outbox.list_for(principal.address)]}


@router.get("/submissions/{submission_id}", response_model=customer.Submission, responses=problems(404, 422))
def submission(submission_id: int, principal: CustomerDep, context: ContextDep) -> dict[str, Any]:
    found = context.outbox.get(submission_id)
    if found.customer.lower() != principal.address.lower():
        raise NotFoundError(f"no submission {submission_id}")
    return found.to_json()


@router.get("/grants", response_model=customer.Grants)
def grants(principal: CustomerDep, context: ContextDep) -> dict[str, Any]:
    """Active grants as the chain holds them now."""
    return {"grants": [g.to_json() for g in context.consents.grants(principal.address)]}


@router.put("/data", status_code=status.HTTP_204_NO_CONTENT, responses=problems(410, 422))
def put_data(body: DataIn, principal: CustomerDep, context: ContextDep) -> None:
    context.vault.put_fields(principal.address, {k: (v.category, v.value) for k, v in body.fields.items()})


@router.get("/data", response_model=customer.Data)
def get_data(principal: CustomerDep, context: ContextDep) -> dict[str, Any]:
    fields = context.vault.get_fields(principal.address)
    return {"fields": {k: {"category": v.category, "value": v.value} for k, v in sorted(fields.items())}}


@router.get("/data/export", response_model=customer.DataExport, responses=problems(404))
def export_data(principal: CustomerDep, context: ContextDep) -> dict[str, Any]:
    """Everything we hold about you, as JSON (GDPR art. 20)."""
    return context.vault.export(principal.address)


@router.delete("/data", response_model=customer.Erased, responses=problems(422))
def erase_data(principal: CustomerDep, context: ContextDep, confirm: str = "") -> dict[str, Any]:
    """Erase your data for good (GDPR art. 17): pass `?confirm=ERASE`."""
    if confirm != "ERASE":
        raise InputError("erasure cannot be undone: repeat the call with ?confirm=ERASE")
    return {"erased_fields": context.vault.erase(principal.address)}


@router.get("/releases", response_model=base.ReleaseReceipts, responses=problems(422))
def releases(principal: CustomerDep, context: ContextDep, limit: int = 100) -> dict[str, Any]:
    """Who received which of your data, for which purpose, at which block."""
    return {"releases": context.releases.receipts_for(customer=principal.address, limit=min(max(limit, 1), 1000))}


@router.get("/accesses", response_model=customer.Accesses)
def accesses(principal: CustomerDep, context: ContextDep) -> dict[str, Any]:
    """Who accessed my data, what, for which purpose, when; each with its access-log inclusion proof
    to the latest anchored root (verify it yourself: the root is on-chain)."""
    return context.audit.accesses(principal.address)


@router.get("/notices", response_model=propagation.Notices)
def notices(principal: CustomerDep, context: ContextDep) -> dict[str, Any]:
    """What each brand was told of my revocations and erasures, and when it acknowledged: each step with its
    access-log leaf and inclusion proof to the latest anchored root."""
    return context.notices.customer_notices(principal.address)


@router.get("/history", response_model=base.HistoryPage, responses=problems(422))
def history(
    principal: CustomerDep, context: ContextDep, kind: str | None = None, after: str | None = None, limit: int = 100
) -> dict[str, Any]:
    """My grants, revocations, rejections and the releases of my data, in chain order."""
    kinds = [k.strip() for k in kind.split(",") if k.strip()] if kind else None
    return context.audit.customer_history(principal.address, kinds=kinds, after=after, limit=limit)


@router.get("/consent-receipts", response_model=base.ConsentReceipts)
def consent_receipts(principal: CustomerDep, context: ContextDep) -> dict[str, Any]:
    """A consent receipt (Kantara CR 1.1 / ISO/IEC TS 27560 fields) for each of my grants."""
    return {"receipts": context.audit.consent_receipts(principal.address)}
