"""A real `serve` process: readiness says which jobs it leads; it logs one JSON line per request, with
the request id it returned, and never a secret or a personal value."""

from __future__ import annotations

import json

import httpx
import pytest
from eth_account import Account
from fault_support import PROFILE, Cluster, grant, release, rows, sign_in, wait_for

from consent_ledger.config import ANVIL_RELAYER_KEY

pytestmark = pytest.mark.chain


def test_one_json_line_per_request_with_its_id_and_nothing_personal(world, cluster: Cluster) -> None:
    replica = cluster.start("logged")
    cluster.wait_ready([replica])
    base = replica.url
    client = httpx.Client(timeout=30)
    customer = Account.create()
    customer_auth = sign_in(client, base, customer)
    submission = grant(client, base, customer, world.brand.address)["id"]
    wait_for(
        "the grant to be confirmed",
        lambda: rows(world.engine, "SELECT status FROM outbox WHERE id = :i", i=submission)[0][0] == "confirmed",
        60,
        detail=cluster.logs,
    )
    brand_auth = sign_in(client, base, world.brand)
    reply = release(client, base, {**brand_auth, "X-Request-ID": "trace-42"}, [customer.address])
    assert reply.json()["released"][0]["fields"]["email"] == PROFILE["email"]["value"]
    assert reply.headers["x-request-id"] == "trace-42"

    # Readiness names this replica and the jobs it leads (it is the only one: it leads them all).
    def leads_all() -> bool:
        leaders = client.get(f"{base}/v1/ready").json()["leaders"]
        return all(leaders.get(job, {}).get("this_replica") for job in ("relayer", "anchorer", "indexer", "webhooks"))

    wait_for("the replica to lead every job", leads_all, 30, detail=cluster.logs)
    ready = client.get(f"{base}/v1/ready").json()
    assert {lease["holder"] for lease in ready["leaders"].values()} == {ready["replica"]}
    missing = client.get(f"{base}/v1/audit/leaves/0?customer={customer.address}")
    ids = {"trace-42", missing.headers["x-request-id"]}
    replica.process.terminate()
    replica.process.wait(timeout=30)

    lines = replica.log.read_text().splitlines()
    assert [line for line in lines if not line.startswith("{")] == []  # every line is JSON
    entries = [json.loads(line) for line in lines]
    requests = [e for e in entries if e["logger"] == "consent_ledger.requests"]
    assert {e["request_id"] for e in requests} >= ids
    traced = next(e for e in requests if e["request_id"] == "trace-42")
    assert (traced["method"], traced["route"], traced["status"]) == ("POST", "/v1/releases", 200)
    assert traced["duration_ms"] > 0
    assert all({"ts", "level", "message"} <= e.keys() for e in entries)
    text = "\n".join(lines)
    generated = [p.read_text().strip() for p in (world.var / "secrets").iterdir()]
    assert len(generated) == 3  # the token secret, the vault master key and the webhook signing key it made
    secrets = [*generated, ANVIL_RELAYER_KEY, ANVIL_RELAYER_KEY[2:]]
    secrets += [customer_auth["Authorization"][7:], brand_auth["Authorization"][7:]]
    personal = [PROFILE["email"]["value"], PROFILE["interests"]["value"], customer.address, customer.address.lower()]
    for value in secrets + personal:
        assert value not in text
