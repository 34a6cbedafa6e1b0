"""Aggregate insights through the API on the session anvil: only consenting customers are counted, at
one pinned block; the privacy budget is charged per query and refused when spent; small cells are
suppressed; each query is an access-log leaf written in the query's own transaction.

Most tests ask with a very large epsilon (noise of scale 0.002: the noisy count equals the true one
except with probability below 1e-200) so they can assert exact counts; the noise itself is tested
statistically in tests/unit/test_insight_noise.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from api_support import Api, api_settings
from consent_ledger.api.app import create_app
from consent_ledger.audit import export_file
from consent_ledger.audit.leaf import InsightLeaf, decode_any
from consent_ledger.audit.verifier import verify_log

pytestmark = pytest.mark.chain

PURPOSE = "tcf.audience_statistics"
AGES = ["18-24", "25-34", "35-44"]
INTERESTS = ["hiking", "climbing", "cooking"]
EXACT = 1000.0  # epsilon per query allowed by these tests' settings
QUERY = {
    "purpose": PURPOSE,
    "epsilon": EXACT,
    "histograms": [
        {"category": "demographic.age_range", "bins": AGES},
        {"category": "interests", "bins": INTERESTS, "contributions": 2},
    ],
}


def _settings(chain, db_url: str, tmp_path):
    """The server's settings in these tests: exact counts (a huge epsilon), room for three queries, groups of 2."""
    return api_settings(
        chain,
        db_url,
        tmp_path,
        insight_epsilon_per_query=EXACT,
        insight_epsilon_per_period=3 * EXACT + 0.5,
        insight_min_group_size=2,
    )


@pytest.fixture
def api(chain, db_url: str, tmp_path) -> Iterator[Api]:
    settings = _settings(chain, db_url, tmp_path)
    app = create_app(settings, run_relayer=False)
    with TestClient(app) as client:
        yield Api(client, app.state.context)


def _customer(api: Api, brand: str, age: str, interests: str, purposes: list[str] | None = None):
    customer, auth = api.customer()
    fields = {
        "age": {"category": "demographic.age_range", "value": age},
        "interests": {"category": "interests", "value": interests},
        "email": {"category": "contact.email", "value": "someone@example.org"},
    }
    assert api.client.put("/v1/me/data", json={"fields": fields}, headers=auth).status_code == 204
    if purposes is not None:
        api.grant(customer, auth, brand, ["demographic.age_range", "interests"], purposes)
    return customer, auth


@pytest.fixture
def audience(api: Api):
    """A brand; three customers who granted it age range and interests for audience statistics, one who
    granted the same data only for email marketing, one who granted nothing."""
    brand, brand_auth = api.brand()
    granted = [
        _customer(api, brand.address, "25-34", "hiking, climbing", [PURPOSE]),
        _customer(api, brand.address, "25-34", "Hiking, cooking, chess", [PURPOSE]),
        _customer(api, brand.address, "35-44", "cooking", [PURPOSE]),
    ]
    _customer(api, brand.address, "25-34", "hiking", ["marketing.email"])
    _customer(api, brand.address, "25-34", "hiking")
    api.relay()
    return brand, brand_auth, granted


def _ask(api: Api, auth: dict[str, str], body: dict = QUERY, status: int = 200) -> dict:
    reply = api.client.post("/v1/insights", json=body, headers=auth)
    assert reply.status_code == status, reply.text
    return reply.json()


def _bins(result: dict, category: str) -> dict[str, int | None]:
    (histogram,) = [h for h in result["histograms"] if h["category"] == category]
    return {cell["bin"]: cell["count"] for cell in histogram["bins"]}


def test_only_consenting_customers_are_counted_and_a_revoked_one_drops_out(api: Api, audience) -> None:
    brand, brand_auth, granted = audience
    first = _ask(api, brand_auth)
    assert first["total"] == {"count": 3, "suppressed": False}
    # 18-24: nobody; 35-44: one customer, below the minimum group size of 2: suppressed, not shown as 1
    assert _bins(first, "demographic.age_range") == {"18-24": None, "25-34": 2, "35-44": None}
    assert _bins(first, "interests") == {"hiking": 2, "climbing": None, "cooking": 2}
    assert first["privacy"]["min_group_size"] == 2
    assert first["privacy"]["noise_scale"] == pytest.approx((1 + 1 + 2) / EXACT)
    assert "customers" not in first
    assert "released" not in first

    customer, auth = granted[0]
    api.revoke(customer, auth, brand.address)
    api.relay()
    second = _ask(api, brand_auth)
    assert second["block"]["number"] > first["block"]["number"]
    assert second["total"]["count"] == 2
    assert _bins(second, "demographic.age_range") == {"18-24": None, "25-34": None, "35-44": None}
    assert _bins(second, "interests") == {"hiking": None, "climbing": None, "cooking": 2}


def test_a_grant_must_cover_every_asked_category_for_that_purpose(api: Api) -> None:
    brand, brand_auth = api.brand()
    for _ in range(2):
        customer, auth = _customer(api, brand.address, "18-24", "chess")
        api.grant(customer, auth, brand.address, ["demographic.age_range"], [PURPOSE])  # no interests
    api.relay()
    assert _ask(api, brand_auth)["total"]["count"] is None  # nobody covers interests too
    ages_only = {**QUERY, "histograms": [QUERY["histograms"][0]]}
    assert _bins(_ask(api, brand_auth, ages_only), "demographic.age_range")["18-24"] == 2


def test_repeated_queries_cost_budget_and_a_spent_budget_is_refused(api: Api, audience) -> None:
    _, brand_auth, _ = audience
    budget = api.client.get("/v1/insights/budget", headers=brand_auth).json()
    assert budget["epsilon_spent"] == 0
    assert budget["epsilon_remaining"] == 3 * EXACT + 0.5
    for n in range(1, 4):
        result = _ask(api, brand_auth)
        assert result["privacy"]["epsilon_spent"] == EXACT
        assert result["privacy"]["epsilon_remaining"] == pytest.approx(3 * EXACT + 0.5 - n * EXACT)
    size = api.context.access_log.size
    reply = api.client.post("/v1/insights", json=QUERY, headers=brand_auth)
    assert reply.status_code == 429, reply.text
    assert 0 < int(reply.headers["retry-after"]) <= 86_400  # until the period ends
    refused = reply.json()
    assert refused["type"].endswith("privacy-budget-spent")
    assert refused["epsilon_remaining"] == 0.5
    assert refused["epsilon_asked"] == EXACT
    assert "0.5" in refused["detail"]
    assert refused["period_end"]
    assert api.context.access_log.size == size  # a refused query leaves no leaf
    small = _ask(api, brand_auth, {**QUERY, "epsilon": 0.5})
    assert small["privacy"]["epsilon_remaining"] == 0
    budget = api.client.get("/v1/insights/budget", headers=brand_auth).json()
    assert budget["epsilon_spent"] == 3 * EXACT + 0.5
    assert budget["epsilon_remaining"] == 0
    assert _ask(api, brand_auth, {**QUERY, "epsilon": 0.001}, status=429)["epsilon_remaining"] == 0
    _other, other_auth = api.brand("Other Brand")  # budgets are per brand
    assert _ask(api, other_auth)["privacy"]["epsilon_spent"] == EXACT


def test_each_query_is_a_leaf_naming_no_value(api: Api, audience, tmp_path: Path) -> None:
    brand, brand_auth, _ = audience
    size = api.context.access_log.size
    result = _ask(api, brand_auth)
    assert api.context.access_log.size == size + 1 == result["leaf_index"] + 1
    leaf = decode_any(api.context.access_log.leaf(result["leaf_index"]))
    assert isinstance(leaf, InsightLeaf)
    catalog = api.context.catalog
    assert leaf.brand == brand.address
    assert leaf.query_id == result["query_id"]
    assert catalog.category_names(leaf.categories) == ["demographic.age_range", "interests"]
    assert catalog.purpose_names(leaf.purposes) == [PURPOSE]
    assert (leaf.block_number, leaf.block_hash) == (result["block"]["number"], result["block"]["hash"])
    assert leaf.epsilon == EXACT
    # the independent verifier understands the new kind of leaf
    context = api.context
    context.anchorer.anchor_now()
    path = tmp_path / "log.jsonl"
    exported = context.access_log.export(
        context.deployment.chain_id,
        context.ledger.address,
        context.anchorer.sender.address,
        context.deployment.deploy_block,
    )
    export_file.write(path, exported)
    report = verify_log(context.ledger.rpc, export_file.read(path))
    assert report.ok, [v.to_json() for v in report.violations + report.unverified]
    assert report.insight_queries == 1
    assert report.insight_epsilon == {brand.address: EXACT}


def test_a_failed_commit_releases_nothing_and_charges_nothing(api: Api, audience, monkeypatch) -> None:
    _, brand_auth, _ = audience
    log = api.context.insights.log
    append = log.append

    def append_then_fail(session, leaves):
        append(session, leaves)  # the charge and the leaf are in the transaction; the commit fails
        raise OperationalError("COMMIT", {}, Exception("the database went away"))

    monkeypatch.setattr(log, "append_and_commit", append_then_fail)
    size = log.size
    failed = _ask(api, brand_auth, status=503)
    assert "histograms" not in failed
    assert "total" not in failed
    assert log.size == size
    assert api.client.get("/v1/insights/budget", headers=brand_auth).json()["epsilon_spent"] == 0


def test_a_vault_that_cannot_be_read_answers_nothing_and_charges_nothing(api: Api, audience) -> None:
    """The counting records are read on the database driver's own cursor: its failure is still a 503."""
    _, brand_auth, _ = audience
    rename = "ALTER TABLE customer_keys RENAME COLUMN {} TO {}"
    with api.context.engine.begin() as connection:
        connection.execute(text(rename.format("interests", "interests_elsewhere")))
    try:
        failed = _ask(api, brand_auth, status=503)
    finally:
        with api.context.engine.begin() as connection:
            connection.execute(text(rename.format("interests_elsewhere", "interests")))
    assert "could not be read" in failed["detail"]
    assert "total" not in failed
    assert api.client.get("/v1/insights/budget", headers=brand_auth).json()["epsilon_spent"] == 0
    assert _ask(api, brand_auth)["total"]["count"] == 3


@pytest.mark.parametrize(
    "change",
    [
        {"purpose": "tcf.nonexistent"},
        {"epsilon": 0},
        {"epsilon": EXACT * 2},
        {"histograms": [{"category": "no.such", "bins": ["a"]}]},
        {"histograms": [{"category": "interests", "bins": ["a", "A"]}]},
        {"histograms": [{"category": "interests", "bins": ["a"], "contributions": 2}]},
        {"histograms": [{"category": "interests", "bins": ["a"]}, {"category": "interests", "bins": ["b"]}]},
    ],
)
def test_bad_queries_are_refused_and_charge_nothing(api: Api, change: dict) -> None:
    _, brand_auth = api.brand()
    reply = api.client.post("/v1/insights", json={**QUERY, **change}, headers=brand_auth)
    assert reply.status_code in (400, 422), reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert api.client.get("/v1/insights/budget", headers=brand_auth).json()["epsilon_spent"] == 0


def test_customers_cannot_ask_for_insights(api: Api) -> None:
    _, auth = api.customer()
    assert api.client.post("/v1/insights", json=QUERY, headers=auth).status_code == 403


def test_the_api_docs_say_how_to_choose_epsilon(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    described = spec["paths"]["/v1/insights"]["post"]["description"]
    assert "Choosing epsilon" in described
    assert "small groups" in described
    assert "privacy-budget-spent" in described
    assert "/v1/insights/budget" in spec["paths"]


def test_a_category_outside_the_counting_records_is_counted_from_the_fields(api: Api) -> None:
    """Age range and interests are read from the vault's counting records; any other category still
    counts, from the field rows, under the same consent rule."""
    brand, brand_auth = api.brand()
    assert not api.context.vault.counting.counts_cover(["loyalty"])
    for tier, categories in [("gold", ["loyalty"]), ("gold", ["loyalty"]), ("silver", ["loyalty"]), ("gold", [])]:
        customer, auth = api.customer()
        fields = {"tier": {"category": "loyalty", "value": tier}}
        assert api.client.put("/v1/me/data", json={"fields": fields}, headers=auth).status_code == 204
        if categories:
            api.grant(customer, auth, brand.address, categories, [PURPOSE])
    api.relay()
    body = {"purpose": PURPOSE, "epsilon": EXACT, "histograms": [{"category": "loyalty", "bins": ["gold", "silver"]}]}
    result = _ask(api, brand_auth, body)
    assert result["total"]["count"] == 3
    assert _bins(result, "loyalty") == {"gold": 2, "silver": None}


def test_data_stored_before_the_counting_records_counts_after_a_restart(
    api: Api, audience, chain, db_url: str, tmp_path: Path
) -> None:
    """Migration 0017 leaves the counting records of earlier data empty; the next start-up builds them."""
    _, brand_auth, _ = audience
    with api.context.engine.begin() as connection:  # the rows as they were before migration 0017 filled them
        connection.execute(text("UPDATE customer_keys SET counts_version = NULL, age_range = NULL, interests = NULL"))
    assert _ask(api, brand_auth)["total"]["count"] is None  # nobody has a record: nobody is counted

    settings = _settings(chain, db_url, tmp_path)
    app = create_app(settings, run_relayer=False)
    with TestClient(app) as client:
        restarted = Api(client, app.state.context)
        result = _ask(restarted, brand_auth)
    assert result["total"]["count"] == 3
    assert _bins(result, "interests") == {"hiking": 2, "climbing": None, "cooking": 2}
