"""The OpenAPI schema describes the API (issue 8 item 10): a response model for every route, the errors
each can answer as problem+json, and the bearer token as a security scheme."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from consent_ledger.api.app import create_app
from consent_ledger.config import Settings

MODELS = Path(__file__).resolve().parents[2] / "backend" / "consent_ledger" / "apimodels"
OPEN = {
    "/v1/health",
    "/.well-known/consent-ledger/webhook-keys.json",
    "/v1/ready",
    "/v1/catalog",
    "/v1/limits",
    "/v1/brands",
    "/v1/auth/nonce",
    "/v1/auth/login",
    "/v1/stewardship/compare",
    "/v1/stewardship/compare/figures.csv",
    "/v1/stewardship/{brand}",
    "/v1/stewardship/{brand}/figures.csv",
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    schema: dict[str, Any] = create_app(Settings(env="test")).openapi()  # no context needed for the schema
    return schema


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def test_every_success_has_a_model(document: dict[str, Any]) -> None:
    for path, method, op in _operations(document):
        successes = {s: r for s, r in op["responses"].items() if s.startswith("2")}
        assert successes, (method, path)
        for status, reply in successes.items():
            if status == "204":
                assert "content" not in reply, (method, path)
                continue
            for media, content in reply["content"].items():
                schema = content["schema"]
                assert "$ref" in schema or media == "text/csv", (method, path, status, schema)


def test_errors_are_problem_documents(document: dict[str, Any]) -> None:
    for path, method, op in _operations(document):
        errors = {s: r for s, r in op["responses"].items() if s[0] in "45"}
        expected = {"400", "413", "500"} | ({"429"} if path not in ("/v1/health", "/v1/ready") else set())
        assert expected <= set(errors), (method, path, sorted(errors))
        if path not in OPEN:
            assert "401" in errors, (method, path)
        if path not in OPEN | {"/v1/auth/me", "/v1/audit/tree-head"}:  # those two: any signed-in caller
            assert "403" in errors, (method, path)
        if op.get("parameters") or op.get("requestBody"):
            assert "422" in errors, (method, path)
        for status, reply in errors.items():
            if path in ("/v1/health", "/v1/ready") and status == "503":
                continue  # the health document itself, with what failed
            (media,) = reply["content"]
            assert media == "application/problem+json", (method, path, status)
            ref = reply["content"][media]["schema"]["$ref"]
            assert ref.endswith("/ValidationProblem" if status == "422" else "/Problem"), (method, path, status)
    assert {"404"} <= set(document["paths"]["/v1/me/submissions/{submission_id}"]["get"]["responses"])
    assert {"409"} <= set(document["paths"]["/v1/me/submissions"]["post"]["responses"])
    assert {"410"} <= set(document["paths"]["/v1/me/data"]["put"]["responses"])
    assert {"200", "202"} <= set(document["paths"]["/v1/me/submissions"]["post"]["responses"])


def test_the_token_is_a_bearer_security_scheme(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "the token from POST /v1/auth/login, or (brand endpoints only) a brand's API key `clk_...`",
    }
    for path, method, op in _operations(document):
        names = {p["name"].lower() for p in op.get("parameters", [])}
        assert "authorization" not in names, (method, path)
        if path not in OPEN:
            assert op.get("security") == [{"HTTPBearer": []}], (method, path)


def test_the_models_import_only_pydantic_and_the_standard_library() -> None:
    allowed = {"__future__", "pydantic", "typing", "collections", "datetime", "enum", "consent_ledger"}
    for path in MODELS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                top = node.module.split(".")[0]
                assert top in allowed, (path.name, node.module)
                if top == "consent_ledger":
                    assert node.module.startswith("consent_ledger.apimodels"), (path.name, node.module)
            elif isinstance(node, ast.Import):
                assert all(a.name.split(".")[0] in allowed - {"consent_ledger"} for a in node.names), path.name
