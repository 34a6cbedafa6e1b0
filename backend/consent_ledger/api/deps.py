"""FastAPI dependencies: the app context and the signed-in principal with its role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from consent_ledger.auth.errors import TokenError
from consent_ledger.auth.roles import Principal, Role, require
from consent_ledger.composition import AppContext
from consent_ledger.ratelimit import IDENTITY


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


ContextDep = Annotated[AppContext, Depends(get_context)]


# The bearer scheme, as the OpenAPI schema declares it; a missing or other header is our own 401 problem.
BEARER = HTTPBearer(auto_error=False, description="the token from POST /v1/auth/login")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


def get_principal(context: ContextDep, credentials: Credentials) -> Principal:
    if credentials is None:
        raise TokenError("sign in first: send `Authorization: Bearer <token>` from POST /v1/auth/login")
    principal = context.auth.authenticate(credentials.credentials.strip())
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
