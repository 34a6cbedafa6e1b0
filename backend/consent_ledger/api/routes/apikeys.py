"""A brand's API keys, for its servers: made, listed and revoked by the brand signed in with its wallet
(never with a key, so a key cannot make itself a stronger one)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from consent_ledger.api.deps import BrandDep, ContextDep
from consent_ledger.api.openapi import EVERY_ROUTE, SIGNED_IN, Router, problems
from consent_ledger.apikeys import Permission
from consent_ledger.apikeys.permissions import DESCRIPTIONS
from consent_ledger.apimodels import apikeys

router = Router(prefix="/v1/brand/api-keys", tags=["brand"], responses=problems(*EVERY_ROUTE, *SIGNED_IN, 422))


class NewKeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=120, description="what uses the key, e.g. 'CRM sync'")
    permissions: list[Permission] = Field(min_length=1, max_length=len(Permission))
    expires_in_days: int = Field(default=365, ge=1, le=730, description="the key stops working after this")


@router.post("", status_code=201, response_model=apikeys.NewApiKey, responses=problems(409))
def create(body: NewKeyBody, principal: BrandDep, context: ContextDep) -> dict[str, Any]:
    """A new key with these permissions; `key` is in this answer only (we keep its SHA-256)."""
    made = context.api_keys.create(
        principal.address, body.name, [p.value for p in body.permissions], timedelta(days=body.expires_in_days)
    )
    return made.to_json()


@router.get("", response_model=apikeys.ApiKeys)
def keys(principal: BrandDep, context: ContextDep) -> dict[str, Any]:
    """Your keys, newest first, with when each was last used; and the permissions a key can have."""
    return {
        "keys": [record.to_json() for record in context.api_keys.of_brand(principal.address)],
        "permissions": [{"name": p.value, "description": DESCRIPTIONS[p]} for p in Permission],
    }


@router.delete("/{key_id}", response_model=apikeys.ApiKey, responses=problems(404))
def revoke(key_id: str, principal: BrandDep, context: ContextDep) -> dict[str, Any]:
    """Revoke a key: the next request with it is refused, on every replica. Revoking again changes nothing."""
    return context.api_keys.revoke(principal.address, key_id).to_json()
