"""Every request gets a request id (the caller's `X-Request-ID` when it is a plain token, else a new one),
returned as the `X-Request-ID` response header; when it is answered, one JSON log line and the request
metrics record it by route template (`/v1/me/submissions/{submission_id}`, never the values in the path,
the query string, headers or body). A pure ASGI middleware: no per-request task or body buffering."""

from __future__ import annotations

import inspect
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consent_ledger.observability.logs import FIELDS
from consent_ledger.observability.metrics import Metrics

HEADER = "X-Request-ID"
_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
log = logging.getLogger("consent_ledger.requests")


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = bytes(value).decode("latin-1")
            if _ACCEPTED_ID.fullmatch(candidate):
                return candidate
    return uuid.uuid4().hex


def route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str) and path:
        return path
    return "static" if route is not None else "unmatched"


def metrics_of(scope: Scope) -> Metrics | None:
    """The serving context's metrics (built in the app's lifespan; absent before it ran)."""
    context = getattr(getattr(scope.get("app"), "state", None), "context", None)
    metrics = getattr(context, "metrics", None)
    return metrics if isinstance(metrics, Metrics) else None


class RequestObserver:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        began = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message).append(HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - began
            method, route = str(scope.get("method", "")), route_of(scope)
            metrics = metrics_of(scope)
            if metrics is not None:
                metrics.observe_request(method, route, status, seconds)
            fields: dict[str, Any] = {
                "request_id": request_id,
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
            }
            log.info("request", extra={FIELDS: fields})


def count_errors(app: Starlette) -> None:
    """Wrap every exception handler so each error response is counted by exception class and status."""
    for key, handler in list(app.exception_handlers.items()):
        app.exception_handlers[key] = _counting(handler)


def _counting(handler: Callable[[Request, Exception], Any]) -> Callable[[Request, Exception], Awaitable[Any]]:
    async def counted(request: Request, error: Exception) -> Any:
        response = handler(request, error)
        if inspect.isawaitable(response):
            response = await response
        metrics = metrics_of(request.scope)
        if metrics is not None:
            metrics.errors.labels(type(error).__name__, str(getattr(response, "status_code", 500))).inc()
        return response

    return counted
