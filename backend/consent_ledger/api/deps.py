"""FastAPI dependencies: the app context and the signed-in principal with its role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from consent_ledger.apikeys import Permission
from consent_ledger.auth.errors import TokenError
from consent_ledger.auth.roles import Principal, Role, require, require_permission, require_session
from consent_ledger.composition import AppContext
from consent_ledger.ratelimit import IDENTITY


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


ContextDep = Annotated[AppContext, Depends(get_context)]


# The bearer scheme, as the OpenAPI schema declares it; a missing or other header is our own 401 problem.
BEARER = HTTPBearer(
    auto_error=False,
    description="the token from POST /v1/auth/login, or (brand endpoints only) a brand's API key `clk_...`",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


def get_caller(context: ContextDep, credentials: Credentials) -> Principal:
    """Whoever sent the bearer token or API key (an API key is let through only by `_brand_may`)."""
    if credentials is None:
        raise TokenError("sign in first: send `Authorization: Bearer <token>` from POST /v1/auth/login")
    principal = context.auth.authenticate(credentials.credentials.strip())
    context.rate_limits.hit(IDENTITY, principal.address.lower())
    return principal


CallerDep = Annotated[Principal, Depends(get_caller)]


def get_principal(caller: CallerDep) -> Principal:
    """A caller signed in with a wallet: API keys open no endpoint but the brand ones of their permissions."""
    require_session(caller)
    return caller


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def _role(role: Role) -> Callable[[Principal], Principal]:
    def dependency(principal: PrincipalDep) -> Principal:
        require(principal, role)
        return principal

    return dependency


def _brand_may(permission: Permission) -> Callable[[Principal], Principal]:
    """A brand signed in with its wallet, or one of its API keys made with `permission`."""

    def dependency(caller: CallerDep) -> Principal:
        require(caller, Role.BRAND)
        require_permission(caller, permission)
        return caller

    return dependency


CustomerDep = Annotated[Principal, Depends(_role(Role.CUSTOMER))]
BrandDep = Annotated[Principal, Depends(_role(Role.BRAND))]  # wallet sign-in only (managing API keys)
AuditorDep = Annotated[Principal, Depends(_role(Role.AUDITOR))]
# Brand endpoints an API key may open, each with the permission it needs.
PermissionsReaderDep = Annotated[Principal, Depends(_brand_may(Permission.PERMISSIONS_READ))]
ReleaseRequesterDep = Annotated[Principal, Depends(_brand_may(Permission.RELEASES_REQUEST))]
ReceiptsReaderDep = Annotated[Principal, Depends(_brand_may(Permission.RECEIPTS_READ))]
InsightsQuerierDep = Annotated[Principal, Depends(_brand_may(Permission.INSIGHTS_QUERY))]
WebhooksManagerDep = Annotated[Principal, Depends(_brand_may(Permission.WEBHOOKS_MANAGE))]
