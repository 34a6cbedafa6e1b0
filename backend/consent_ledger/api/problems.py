"""The one place errors become HTTP: RFC 9457 `application/problem+json`.

Every error we raise on purpose is a `LedgerError`; its class picks the status. Database and
unexpected errors never leak details: 503 for a database that cannot answer, 500 otherwise.
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
    ConfigError,
    ConflictError,
    ContractRevertError,
    InputError,
    LedgerError,
    NotFoundError,
    UnavailableError,
)
from consent_ledger.vault.errors import ErasedError, VaultError

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"

# Most specific first.
STATUS: list[tuple[type[LedgerError], int, str]] = [
    (ForbiddenError, 403, "forbidden"),
    (AuthError, 401, "unauthorized"),
    (NotFoundError, 404, "not-found"),
    (ErasedError, 410, "erased"),
    (ConflictError, 409, "conflict"),
    (ContractRevertError, 409, "refused-by-contract"),
    (ChainError, 503, "chain-unavailable"),
    (UnavailableError, 503, "unavailable"),
    (ConfigError, 503, "misconfigured"),
    (InputError, 400, "bad-input"),
    (VaultError, 400, "bad-input"),
    (LedgerError, 400, "bad-request"),
]


def problem(status: int, slug: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": f"urn:consent-ledger:problem:{slug}", "title": title, "status": status, "detail": detail}
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def status_for(error: LedgerError) -> tuple[int, str]:
    for cls, status, slug in STATUS:
        if isinstance(error, cls):
            return status, slug
    return 400, "bad-request"


def install(app: FastAPI) -> None:
    @app.exception_handler(LedgerError)
    async def ledger_error(_: Request, error: LedgerError) -> JSONResponse:
        status, slug = status_for(error)
        if status >= 500:
            log.warning("%s: %s", type(error).__name__, error)
        return problem(status, slug, type(error).__name__, str(error))

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
        return problem(500, "internal", "Internal error", "something went wrong on our side")
