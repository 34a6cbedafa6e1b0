"""What `/openapi.json` says about errors: each route lists the statuses it can answer with, every one
an `application/problem+json` `Problem` (422: a `ValidationProblem` with the mismatches)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from consent_ledger.api.problems import PROBLEM
from consent_ledger.apimodels.base import Problem, ValidationProblem

WHY = {
    400: "bad input: the detail says which value and what to send instead; nothing was changed",
    401: "not signed in, or the token is malformed, forged or expired: sign in again",
    403: "signed in without the role this needs, or the message is someone else's",
    404: "no such thing (or not yours)",
    409: "contradicts what is recorded (another message holds that nonce)",
    410: "erased for good",
    413: "the request body is larger than the server accepts",
    422: "the request does not match the schema",
    429: "over a rate limit: retry after `Retry-After` seconds",
    500: "a fault of ours; the detail stays in our log",
    503: "the chain or the database cannot answer now; nothing was done: retry",
}
# What any request can meet: a bad or oversized body (checked before routing), a rate limit, a fault of
# ours, a dependency that does not answer.
EVERY_ROUTE = (400, 413, 429, 500, 503)
SIGNED_IN = (401, 403)
PROBLEM_SCHEMAS = {"Problem", "ValidationProblem"}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route or router: `statuses`, each a problem document."""
    return {
        status: {"model": ValidationProblem if status == 422 else Problem, "description": WHY[status]}
        for status in sorted(set(statuses))
    }


def install(app: FastAPI, *models: type[BaseModel]) -> None:
    """Serve the schema with every error response under `application/problem+json` (FastAPI would
    name `application/json`, the media type of the route's success), and `models` (bodies of routes
    that answer a file) among its components."""

    def schema() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                for reply in operation.get("responses", {}).values():
                    content = reply.get("content", {})
                    ref = str(content.get("application/json", {}).get("schema", {}).get("$ref", ""))
                    if ref.rsplit("/", 1)[-1] in PROBLEM_SCHEMAS:
                        reply["content"] = {PROBLEM: content["application/json"]}
        components = document.setdefault("components", {}).setdefault("schemas", {})
        for model in models:
            found = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
            components.update(found.pop("$defs", {}))
            components[model.__name__] = found
        app.openapi_schema = document
        return document

    app.openapi = schema  # type: ignore[method-assign]


class Router(APIRouter):
    """An APIRouter whose responses carry exactly the keys the handler returned: validated against the
    route's response model, never padded with the model's unset optional fields."""

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        kwargs["response_model_exclude_unset"] = True
        super().add_api_route(path, endpoint, **kwargs)
