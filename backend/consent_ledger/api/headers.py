"""Security headers on every response, set in one place.

- pages (the wallet page and the consoles): a Content-Security-Policy that loads only our own files
  and forbids framing (`frame-ancestors` works only as a header, not in a meta tag);
- API responses (`/v1/...`): a policy that renders nothing, and `Cache-Control: no-store`, since they
  carry tokens and personal data that no browser or proxy cache may keep;
- the OpenAPI docs pages: FastAPI's Swagger UI and ReDoc load from their CDN with an inline script;
- everywhere: `nosniff`, no framing (also for browsers without CSP level 2), no referrer.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = (
    "default-src 'self'; connect-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
DOCS_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "connect-src 'self'; worker-src blob:; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
EVERYWHERE = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


def headers_for(path: str) -> list[tuple[bytes, bytes]]:
    """The security headers of a response to `path`."""
    if path.startswith("/v1/") or path == "/openapi.json":
        extra = [(b"content-security-policy", API_POLICY.encode()), (b"cache-control", b"no-store")]
    elif path.startswith(DOCS_PATHS):
        extra = [(b"content-security-policy", DOCS_POLICY.encode())]
    else:
        extra = [(b"content-security-policy", PAGE_POLICY.encode())]
    return EVERYWHERE + extra


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = headers_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in added if h[0] not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)
