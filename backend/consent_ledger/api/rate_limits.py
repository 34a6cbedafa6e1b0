"""Per network address rate limits on every request, before its body is read: 429 problem+json with
Retry-After past the limit. Health, readiness and metrics are exempt (load balancers and scrapers poll
them). The per-identity limit is counted where the token is read (api/deps.py), the sign-in nonce limit
on its route."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from consent_ledger.api.problems import problem_for
from consent_ledger.errors import RateLimitedError
from consent_ledger.ratelimit import ADDRESS, RateLimits

EXEMPT = frozenset({"/v1/health", "/v1/ready", "/metrics"})


def client_address(scope: Scope) -> str:
    """The caller's network address as the server sees it (behind a proxy: its address, unless the
    server trusts the proxy's forwarded headers)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class AddressRateLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in EXEMPT:
            limits: RateLimits | None = getattr(getattr(scope["app"].state, "context", None), "rate_limits", None)
            if limits is not None:
                try:
                    limits.hit(ADDRESS, client_address(scope))
                except RateLimitedError as error:
                    await problem_for(error)(scope, receive, send)
                    return
        await self.app(scope, receive, send)
