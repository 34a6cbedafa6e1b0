"""Operating a replica: liveness, readiness with the shared work's state, request ids, Prometheus metrics."""

from __future__ import annotations

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from api_support import PROFILE

pytestmark = pytest.mark.chain


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _released_once(api):
    brand, brand_auth = api.brand()
    customer, auth = api.customer()
    assert api.client.put("/v1/me/data", json={"fields": PROFILE}, headers=auth).status_code == 204
    api.grant(customer, auth, brand.address, ["contact.email"], ["marketing.email"])
    api.relay()
    body = {"customers": [customer.address], "categories": ["contact.email"], "purpose": "marketing.email"}
    assert api.client.post("/v1/releases", json=body, headers=brand_auth).json()["released"]
    return brand, brand_auth, customer, auth


def test_health_says_the_replica_reaches_the_chain_and_tells_no_secret(api) -> None:
    reply = api.client.get("/v1/health")
    assert reply.status_code == 200
    body = reply.json()
    assert body["status"] == "ok"
    assert body["chain"] == {
        "chain_id": api.context.deployment.chain_id,
        "contract": api.context.deployment.address,
        "block": api.context.ledger.rpc.block_number(),
        "ok": True,
    }
    assert api.context.settings.rpc_url not in reply.text
    assert "://" not in reply.text


def test_ready_reports_database_chain_outbox_indexer_and_anchors(api) -> None:
    ready = api.client.get("/v1/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True
    assert body["database"] == {"ok": True}
    assert body["chain"]["ok"] is True
    head = body["chain"]["head"]
    assert head == api.context.ledger.rpc.block_number()
    assert body["outbox"] == {"waiting": 0, "oldest_waiting_seconds": None}
    assert body["indexer"] == {"block": None, "lag_blocks": None}
    assert body["access_log"]["size"] == 0
    assert "://" not in ready.text

    brand, _ = api.brand()
    customer, auth = api.customer()
    api.grant(customer, auth, brand.address, ["contact.email"], ["marketing.email"])
    waiting = api.client.get("/v1/ready").json()["outbox"]
    assert waiting["waiting"] == 1
    assert waiting["oldest_waiting_seconds"] >= 0
    api.relay()
    assert api.client.get("/v1/ready").json()["outbox"]["waiting"] == 0

    api.context.indexer.backfill()
    rpc = api.context.ledger.rpc
    rpc.request("anvil_mine", ["0x5"])
    indexer = api.client.get("/v1/ready").json()["indexer"]
    assert indexer["block"] is not None
    assert indexer["lag_blocks"] == rpc.block_number() - indexer["block"] >= 5


def test_ready_counts_unanchored_leaves_and_the_last_anchor(api) -> None:
    _released_once(api)
    log = api.client.get("/v1/ready").json()["access_log"]
    assert log == {"size": 1, "anchored_size": 0, "unanchored_leaves": 1, "last_anchor_age_seconds": None}
    api.context.anchorer.anchor_now()
    log = api.client.get("/v1/ready").json()["access_log"]
    assert log["anchored_size"] == 1
    assert log["unanchored_leaves"] == 0
    assert log["last_anchor_age_seconds"] >= 0


def test_every_response_carries_a_request_id(api) -> None:
    first, second = api.client.get("/v1/catalog"), api.client.get("/v1/catalog")
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert api.client.get("/v1/health", headers={"X-Request-ID": "lb-7f3a.91"}).headers["x-request-id"] == "lb-7f3a.91"
    odd = api.client.get("/v1/health", headers={"X-Request-ID": "<script>" + "x" * 100})
    assert re.fullmatch(r"[0-9a-f]{32}", odd.headers["x-request-id"])
    problem = api.client.get("/v1/me/grants")
    assert problem.status_code == 401
    assert problem.headers["x-request-id"]


def test_metrics_count_checks_releases_submissions_and_errors(api) -> None:
    _, brand_auth, customer, _ = _released_once(api)
    check = {
        "questions": [{"customer": customer.address, "categories": ["contact.email"], "purpose": "marketing.email"}]
    }
    check["questions"].append({**check["questions"][0], "categories": ["contact.phone"]})
    assert api.client.post("/v1/permissions/check", json=check, headers=brand_auth).json()["answers"] == [True, False]
    bad = {"questions": [{"customer": "not-an-address", "categories": ["contact.email"], "purpose": "marketing.email"}]}
    assert api.client.post("/v1/permissions/check", json=bad, headers=brand_auth).status_code == 400

    reply = api.client.get("/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    samples = _samples(reply.text)
    route = (("method", "POST"), ("route", "/v1/permissions/check"), ("status", "200"))
    assert samples[("consent_http_requests_total", route)] == 1
    assert samples[("consent_permission_questions_total", (("answer", "allowed"),))] == 1
    assert samples[("consent_permission_questions_total", (("answer", "denied"),))] == 1
    assert samples[("consent_records_released_total", ())] == 1
    assert samples[("consent_submissions_total", (("kind", "grant"),))] == 1
    assert samples[("consent_errors_total", (("error", "InputError"), ("status", "400")))] == 1
    assert samples[("consent_outbox_waiting", ())] == 0
    assert samples[("consent_access_log_unanchored_leaves", ())] == 1
    assert samples[("consent_chain_up", ())] == 1
    assert samples[("consent_ready", ())] == 1
    # Routes are templates: no address or id from a path ever becomes a label.
    api.client.get(f"/v1/me/submissions/{'1' * 8}")
    labels = {value for (_, pairs) in _samples(api.client.get("/metrics").text) for _, value in pairs}
    assert customer.address not in labels
    assert "/v1/me/submissions/{submission_id}" in labels
