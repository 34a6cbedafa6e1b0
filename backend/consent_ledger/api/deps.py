"""FastAPI dependencies: the app context and the signed-in principal with its role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, Request

from consent_ledger.auth.errors import TokenError
from consent_ledger.auth.roles import Principal, Role, require
from consent_ledger.composition import AppContext
from consent_ledger.ratelimit import IDENTITY


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


ContextDep = Annotated[AppContext, Depends(get_context)]


def get_principal(context: ContextDep, authorization: Annotated[str | None, Header()] = None) -> Principal:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise TokenError("sign in first: send `Authorization: Bearer <token>` from POST /v1/auth/login")
    principal = context.auth.authenticate(authorization[7:].strip())
    context.rate_limits.hit(IDENTITY, principal.address.lower())
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def _role(role: Role) -> Callable[[Principal], Principal]:
    def dependency(principal: PrincipalDep) -> Principal:
        require(principal, role)
        return principal

    return dependency


CustomerDep = Annotated[Principal, Depends(_role(Role.CUSTOMER))]
BrandDep = Annotated[Principal, Depends(_role(Role.BRAND))]
AuditorDep = Annotated[Principal, Depends(_role(Role.AUDITOR))]
