"""schemathesis against the app's own OpenAPI schema (issue 8): every operation, signed in as a customer,
a brand and an auditor, with a brand's API key (issue 11), and with no token. Each answer must be no 5xx,
a documented status, of a documented content type, and conform to the documented schema of that status.

The app runs on the session anvil with a throwaway SQLite database; rate limits are off (a 429 is
documented, but a flood of them would hide every other answer). Time is bounded by a few examples per
operation; the counts per role are printed at the end (`-rA` or `-s` shows them) and written to
build/schemathesis-counts.json.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api_support import AUDITOR, PROFILE, Api, api_settings, release_to
from consent_ledger.api.app import create_app
from consent_ledger.chain.devnet import free_port
from consent_ledger.composition import build_context
from consent_ledger.config import Settings
from live_server import app_in_thread

pytestmark = pytest.mark.chain
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 20  # per operation and role, beyond schemathesis's examples and coverage cases
NO_LIMITS = {"rate_limit_per_address": "", "rate_limit_per_identity": "", "rate_limit_nonces_per_address": ""}
BOUNDED = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases every run: a failure here is reproducible
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@dataclass
class Tally:
    operations: set[str] = field(default_factory=set)
    examples: int = 0
    failures: int = 0
    statuses: Counter[int] = field(default_factory=Counter)


@dataclass
class World:
    base_url: str
    tokens: dict[str, dict[str, str]]
    tallies: dict[str, Tally]


@pytest.fixture(scope="module")
def world(
    chain_session, project_root, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[World]:
    root = tmp_path_factory.mktemp("schemathesis")
    snapshot = chain_session.rpc.request("evm_snapshot")
    config = api_settings(chain_session, f"sqlite:///{root / 'api.db'}", root, **NO_LIMITS)
    context = build_context(config)
    app = create_app(config, context_factory=lambda _s: context, run_relayer=False)
    app.state.context = context  # signing in below needs it before any lifespan runs
    api = Api(TestClient(app), context)
    brand, brand_auth = api.brand("Schema Brand")
    customer, customer_auth = api.customer()
    assert api.client.put("/v1/me/data", json={"fields": PROFILE}, headers=customer_auth).status_code == 204
    api.grant(customer, customer_auth, brand.address, ["contact.email", "interests"], ["marketing.email"])
    api.relay()
    release_to(api, brand_auth, customer.address)  # a release, so the access log has a leaf to prove
    context.anchorer.anchor_now()
    permissions = ["permissions:read", "releases:request", "receipts:read", "insights:query", "webhooks:manage"]
    made = api.client.post(
        "/v1/brand/api-keys", json={"name": "schema", "permissions": permissions}, headers=brand_auth
    )
    assert made.status_code == 201, made.text
    key_auth = {"Authorization": f"Bearer {made.json()['key']}"}  # the brand's API key, as its servers send it
    tokens = {
        "customer": customer_auth,
        "brand": brand_auth,
        "brand-key": key_auth,
        "auditor": api.sign_in(AUDITOR),
        "none": {},
    }
    port = free_port()
    with app_in_thread(app, port):  # stopping it runs its lifespan's end, which closes the context
        world = World(f"http://127.0.0.1:{port}", tokens, {role: Tally() for role in tokens})
        try:
            yield world
        finally:
            _report(world, request, project_root)
    assert chain_session.rpc.request("evm_revert", [snapshot]) is True


def _report(world: World, request: pytest.FixtureRequest, root: Any) -> None:
    counts = {
        role: {
            "operations": len(t.operations),
            "examples": t.examples,
            "failures": t.failures,
            "statuses": dict(sorted(t.statuses.items())),
        }
        for role, t in world.tallies.items()
    }
    out = root / "build" / "schemathesis-counts.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(counts, indent=1) + "\n")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"schemathesis counts per role: {json.dumps(counts)}")


# The schema as the app serves it: routes do not depend on settings, so an app that is never started
# gives it at import (schemathesis parametrizes at collection). Calls go over HTTP to the `world` app,
# served by uvicorn in a thread. (schemathesis.pytest.from_fixture would load the schema lazily, but it
# reads `request.node._nodeid`, which pytest 9 no longer has.)
SCHEMA = schemathesis.openapi.from_dict(create_app(Settings(env="test")).openapi())


def _run(case: Any, world: World, role: str) -> None:
    tally = world.tallies[role]
    tally.operations.add(case.operation.label)  # "GET /v1/me/data": the documented operation
    tally.examples += 1
    try:
        response = case.call_and_validate(base_url=world.base_url, headers=world.tokens[role], checks=CHECKS)
    except BaseException:
        tally.failures += 1
        raise
    tally.statuses[response.status_code] += 1


@SCHEMA.parametrize()
@BOUNDED
def test_as_customer(case: Any, world: World) -> None:
    _run(case, world, "customer")


@SCHEMA.parametrize()
@BOUNDED
def test_as_brand(case: Any, world: World) -> None:
    _run(case, world, "brand")


@SCHEMA.parametrize()
@BOUNDED
def test_as_brand_api_key(case: Any, world: World) -> None:
    _run(case, world, "brand-key")


@SCHEMA.parametrize()
@BOUNDED
def test_as_auditor(case: Any, world: World) -> None:
    _run(case, world, "auditor")


@SCHEMA.parametrize()
@BOUNDED
def test_without_a_token(case: Any, world: World) -> None:
    _run(case, world, "none")
