"""The one place errors become HTTP: RFC 9457 `application/problem+json`.

Every error we raise on purpose is a `LedgerError`, either a `ClientError` (4xx) or a `ServerError`
(5xx); its class picks the status from `STATUS`. Database and unexpected errors never leak details:
503 for a database that cannot answer, 500 otherwise. Middlewares (body limits, rate limits) answer
through `problem_for` too, so every error response has one shape.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from consent_ledger.auth.errors import AuthError, ForbiddenError
from consent_ledger.errors import (
    ChainError,
    ClientError,
    ConflictError,
    GoneError,
    InputError,
    LedgerError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    ServerError,
    UnavailableError,
)
from consent_ledger.insights.budget import BudgetSpentError
from consent_ledger.redaction import redact_text

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"

# Most specific first; the two last rows catch every other client error and server fault.
STATUS: list[tuple[type[LedgerError], int, str]] = [
    (ForbiddenError, 403, "forbidden"),
    (AuthError, 401, "unauthorized"),
    (NotFoundError, 404, "not-found"),
    (GoneError, 410, "gone"),
    (ConflictError, 409, "conflict"),
    (PayloadTooLargeError, 413, "payload-too-large"),
    (BudgetSpentError, 429, "privacy-budget-spent"),
    (RateLimitedError, 429, "rate-limited"),
    (InputError, 400, "bad-input"),
    (ClientError, 400, "bad-input"),
    (ChainError, 503, "chain-unavailable"),
    (UnavailableError, 503, "unavailable"),
    (ServerError, 500, "internal"),
]
# Shown instead of the message of a fault that is ours alone (the log keeps the message).
INTERNAL_DETAIL = "something went wrong on our side; it was logged"


def problem(
    status: int, slug: str, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"type": f"urn:consent-ledger:problem:{slug}", "title": title, "status": status, "detail": detail}
    body.update(extra)
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers or None)


def status_for(error: LedgerError) -> tuple[int, str]:
    for cls, status, slug in STATUS:
        if isinstance(error, cls):
            return status, slug
    return 500, "internal"  # a bare LedgerError: nobody should raise one, so it is ours


def problem_for(error: LedgerError) -> JSONResponse:
    """The response for one of our errors: its class's status; 5xx are logged (redacted)."""
    status, slug = status_for(error)
    detail = redact_text(str(error))
    if status >= 500:
        log.warning("%s: %s", type(error).__name__, detail)
        if status == 500:
            detail = INTERNAL_DETAIL
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimitedError) else None
    extensions = getattr(error, "extensions", None) if status < 500 else None  # e.g. the remaining budget
    return problem(status, slug, type(error).__name__, detail, headers, **(extensions or {}))


def install(app: FastAPI) -> None:
    @app.exception_handler(LedgerError)
    async def ledger_error(_: Request, error: LedgerError) -> JSONResponse:
        return problem_for(error)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"location": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
            for e in error.errors()
        ]
        return problem(
            422, "invalid-request", "Invalid request", "the request does not match the schema", errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return problem(error.status_code, "http", str(error.detail), str(error.detail))

    @app.exception_handler(SQLAlchemyError)
    async def database_error(_: Request, error: SQLAlchemyError) -> JSONResponse:
        log.warning("database error: %s", type(error).__name__)
        return problem(503, "database-unavailable", "Database unavailable", "the database could not answer; retry")

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=error)
        return problem(500, "internal", "Internal error", INTERNAL_DETAIL)
