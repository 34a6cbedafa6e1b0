"""The client and the server share their response models (issue 11 item 4): for every route the client
calls, the app's route declares the very class the client parses into, and the OpenAPI schema names it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute

from consent_ledger.api.app import create_app
from consent_ledger.api.routes import apikeys, audit, auth, brand, customer, ops, public, webhooks
from consent_ledger.client import brand as client_brand
from consent_ledger.client import routes as client_routes
from consent_ledger.client.routes import ROUTES, Route
from consent_ledger.config import Settings

ROUTERS = (apikeys, audit, auth, brand, customer, ops, public, webhooks)


@pytest.fixture(scope="module")
def app() -> Any:
    return create_app(Settings(env="test"))


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_the_client_parses_into_the_servers_response_model(app: Any, route: Route) -> None:
    declared = [r for module in ROUTERS for r in module.router.routes if isinstance(r, APIRoute)]
    (served,) = [r for r in declared if r.path == route.path and route.method in r.methods]
    assert served.response_model is route.model
    assert (served.status_code or 200) == route.status
    document = app.openapi()
    reply = document["paths"][route.path][route.method.lower()]["responses"][str(route.status)]
    assert reply["content"]["application/json"]["schema"]["$ref"] == f"#/components/schemas/{route.model.__name__}"
    schema = route.model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
    schema.pop("$defs", None)
    published = document["components"]["schemas"][route.model.__name__]
    assert set(published["properties"]) == set(schema["properties"])  # the fields the client reads
    assert set(published.get("required", [])) == set(schema.get("required", []))


def test_every_client_call_goes_through_a_declared_route() -> None:
    source = Path(client_brand.__file__).read_text()
    names = {name for name, value in vars(client_routes).items() if isinstance(value, Route)}
    assert {route for name in names for route in [getattr(client_routes, name)]} == set(ROUTES)
    for name in names:
        assert f"routes.{name}," in source, name  # each route is called
    assert source.count("self._http.request(") == 1  # one way out: _call, which checks the route's model
