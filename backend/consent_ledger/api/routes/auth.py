"""Sign-In with Ethereum."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from consent_ledger.api.deps import ContextDep, PrincipalDep
from consent_ledger.api.openapi import EVERY_ROUTE, Router, problems
from consent_ledger.api.rate_limits import client_address
from consent_ledger.apimodels import auth
from consent_ledger.ratelimit import NONCE

router = Router(prefix="/v1/auth", tags=["auth"], responses=problems(*EVERY_ROUTE))


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(max_length=8192, description="the EIP-4361 message text that was signed")
    signature: str = Field(max_length=200, description="personal_sign signature, 0x-hex")


@router.get("/nonce", response_model=auth.Challenge, responses=problems(422))
def nonce(request: Request, context: ContextDep, address: str | None = None) -> dict[str, Any]:
    """A single-use nonce; with `?address=`, also the exact message to sign (naming the host you used)."""
    context.rate_limits.hit(NONCE, client_address(request.scope))
    return context.auth.challenge(address, request.headers.get("host"))


@router.post("/login", response_model=auth.Login, responses=problems(401, 422))
def login(body: LoginBody, context: ContextDep) -> dict[str, Any]:
    """Verify a signed SIWE message and return a short-lived bearer token."""
    return context.auth.login(body.message, body.signature).to_json()


@router.get("/me", response_model=auth.Me, responses=problems(401, 403))  # 403: an API key
def me(principal: PrincipalDep) -> dict[str, Any]:
    return {
        "address": principal.address,
        "roles": sorted(principal.roles),
        "expires_at": principal.expires_at.isoformat(),
    }
