"""A revocation arrives at `consent-ledger webhook listen` (issue 11 items 3 and 5, "Done when"), end to end on
the real chain: the command registers itself with the brand's API key, the server's own background jobs
(relayer, indexer, webhook worker, anchorer) run as `serve` runs them, a customer grants, the brand receives
the data, the customer revokes; the listener prints the revoked event and acknowledges it in its answer, and
the customer's notices show the brand told and acknowledged ("stopped_processing"), each step with an
inclusion proof that verifies against the anchored tree head."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from api_support import release_to, with_a_grant
from brand_support import Served, served
from consent_ledger.audit.merkle import leaf_hash
from consent_ledger.audit.verify import verify_inclusion
from listen_support import listening
from waiting import patient

pytestmark = pytest.mark.chain
FAST = {"webhook_retry_base_seconds": 0.05, "webhook_retry_cap_seconds": 0.2, "anchor_every_seconds": 1.0}


@pytest.fixture
def world(chain, tmp_path) -> Iterator[Served]:
    with served(chain, f"sqlite:///{tmp_path / 'arrive.db'}", tmp_path, **FAST) as live:
        yield live


def _check_proof(step: dict, head: dict) -> None:
    leaf = bytes.fromhex(step["leaf"][2:])
    proof = [bytes.fromhex(p[2:]) for p in step["proof"]]
    verify_inclusion(leaf_hash(leaf), step["leaf_index"], head["size"], proof, bytes.fromhex(head["root"][2:]))


def _settled_notice(world: Served, auth: dict[str, str]) -> tuple[dict, dict]:
    """The customer's one notice once it is acknowledged and both steps are anchored."""
    deadline = time.monotonic() + patient(90)
    while True:
        reply = world.api.client.get("/v1/me/notices", headers=auth)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        notices = body["notices"]
        settled = notices and notices[0]["acknowledged"] and notices[0]["acknowledged"]["anchored"]
        if settled and notices[0]["told"]["anchored"]:
            return notices[0], body["tree_head"]
        assert time.monotonic() < deadline, f"not acknowledged and anchored in time: {body}"
        time.sleep(0.2)


def test_a_revocation_signed_in_the_portal_arrives_at_the_listener_acknowledged(world: Served, tmp_path) -> None:
    api = world.api
    brand, brand_auth, customer, auth = with_a_grant(api)
    key = world.new_key(brand_auth, ["webhooks:manage"])["key"]
    flags = ("--register", "--server", world.base, "--api-key", key, "--port", "0")
    with listening(tmp_path, *flags) as listener:
        api.context.start_workers()  # as `serve` does: relayer, anchorer, indexer, webhook delivery
        release_to(api, brand_auth, customer.address)  # the brand receives the data
        api.revoke(customer, auth, brand.address)  # relayed, mined and indexed by the background jobs
        line = listener.wait_for_line(lambda text: text.startswith("consent.revoked"), seconds=90)
        assert f"customer {customer.address}" in line
        assert f"brand {brand.address}" in line
        assert line.endswith("-> ack stopped_processing")

        notice, head = _settled_notice(world, auth)
        assert (notice["event_type"], notice["brand"]) == ("consent.revoked", brand.address)
        assert notice["acknowledged"]["ack"] == "stopped_processing"
        assert notice["settled"] is True
        assert f"id {notice['event_id']} " in line  # the event the listener printed is the one told
        _check_proof(notice["told"], head)
        _check_proof(notice["acknowledged"], head)
        granted = [text for text in listener.lines() if text.startswith("consent.granted")]
        assert granted, listener.stdout()  # the earlier grant came too, acknowledged "received"
        assert all(text.endswith("-> ack received") for text in granted)
        assert listener.interrupt() == 0
    assert "deleted endpoint" in listener.stderr()
