"""`consent-ledger webhook listen` run for real (issue 11 item 5): the command in a subprocess against a live
server on the real chain. With --register it makes itself an endpoint of the brand whose API key it is given,
verifies what the server's own signing code (consent_ledger.webhooks.signing, with the secret the server
stored for that endpoint and the installation's key) signs for it, prints each event on one line and
acknowledges it in the 2xx body; a tampered, replayed or foreign-signed request is refused with a 4xx and
not printed; Ctrl-C exits 0 and deletes the endpoint (kept with --keep). Without --register it verifies with
a given secret and the key published by --server. Bad flags and a server that refuses loopback endpoints
are clear errors, and nothing is left registered."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from brand_support import Served, served
from consent_ledger.client import BrandClient
from consent_ledger.db.base import utc_now
from consent_ledger.webhooks.signing import SigningKey, signature_headers
from listen_support import listening, run_listen

pytestmark = pytest.mark.chain
CUSTOMER = "0x" + "11" * 20


@pytest.fixture
def world(chain, tmp_path) -> Iterator[Served]:
    with served(chain, f"sqlite:///{tmp_path / 'listen.db'}", tmp_path) as live:
        yield live


def _key(world: Served) -> tuple[str, str]:
    brand, brand_auth = world.api.brand()
    return brand.address, world.new_key(brand_auth, ["webhooks:manage"])["key"]


def _event(kind: str, brand: str, n: int) -> tuple[str, bytes]:
    event_id = "evt_" + f"{n:064x}"
    data = {
        "event_id": event_id,
        "customer": CUSTOMER,
        "brand": brand,
        "occurred_at": "2026-12-03T11:00:00+00:00",
        "block_number": 7,
        "tx_hash": "0x" + "ab" * 32,
    }
    body = {"type": kind, "timestamp": "2026-12-03T11:00:01+00:00", "data": data}
    return event_id, json.dumps(body, separators=(",", ":")).encode()


def _sign_as_the_server(world: Served, endpoint_id: str, event_id: str, body: bytes) -> dict[str, str]:
    context = world.api.context
    with context.sessions() as session:
        secrets = context.webhook_endpoints.signing_secrets(session, endpoint_id, utc_now())
    assert secrets, "the endpoint has a stored secret"
    return signature_headers(event_id, int(time.time()), body, secrets, context.webhook_key)


def test_listen_register_receives_verifies_acknowledges_and_cleans_up(world: Served, tmp_path) -> None:
    brand, key = _key(world)
    flags = ("--register", "--server", world.base, "--api-key", key, "--port", "0")
    with BrandClient(world.base, key) as client, listening(tmp_path, *flags) as listener:
        url = listener.url
        assert url.startswith("http://127.0.0.1:")
        (endpoint,) = client.webhook_endpoints().endpoints
        assert endpoint.url == url
        assert endpoint.description == "consent-ledger webhook listen"
        answers = {}
        for n, kind in enumerate(("consent.revoked", "data.erased", "consent.granted", "consent.expired")):
            event_id, body = _event(kind, brand, n)
            reply = httpx.post(url, content=body, headers=_sign_as_the_server(world, endpoint.id, event_id, body))
            answers[kind] = (reply.status_code, reply.json())
        assert answers == {
            "consent.revoked": (200, {"ack": "stopped_processing"}),
            "data.erased": (200, {"ack": "deleted"}),
            "consent.granted": (200, {"ack": "received"}),
            "consent.expired": (200, {"ack": "stopped_processing"}),
        }
        revoked = listener.wait_for_line(lambda line: line.startswith("consent.revoked"))
        for shown in (CUSTOMER, brand, "2026-12-03T11:00:00+00:00", "evt_" + f"{0:064x}", "stopped_processing"):
            assert shown in revoked
        # Refused, and not printed: a tampered body, an exact replay, another installation's signature.
        event_id, body = _event("consent.revoked", brand, 10)
        good = _sign_as_the_server(world, endpoint.id, event_id, body)
        tampered = httpx.post(url, content=body.replace(CUSTOMER.encode(), b"0x" + b"99" * 20), headers=good)
        assert tampered.status_code == 400
        assert tampered.headers["content-type"] == "application/problem+json"
        assert httpx.post(url, content=body, headers=good).status_code == 200
        replayed = httpx.post(url, content=body, headers=good)
        assert replayed.status_code == 409
        foreign = signature_headers(event_id, int(time.time()), body, [], SigningKey.generate())
        assert httpx.post(url, content=body, headers=foreign).status_code == 400
        stale = signature_headers(event_id, int(time.time()) - 3600, body, [], world.api.context.webhook_key)
        assert httpx.post(url, content=body, headers=stale).status_code == 400
        time.sleep(0.5)  # let any wrongly accepted line reach the file
        assert len(listener.lines()) == 5, listener.stdout()
        assert listener.interrupt() == 0
        assert f"deleted endpoint {endpoint.id}" in listener.stderr()
        assert client.webhook_endpoints().endpoints == []
    assert key not in listener.stderr() + listener.stdout()


def test_keep_leaves_the_endpoint_and_a_later_run_verifies_with_the_published_key(world: Served, tmp_path) -> None:
    brand, key = _key(world)
    events = ("--events", "consent.revoked", "data.erased")
    with BrandClient(world.base, key) as client:
        with listening(
            tmp_path, "--register", "--keep", "--server", world.base, "--api-key", key, "--port", "0", *events
        ) as first:
            assert first.interrupt() == 0
        (kept,) = client.webhook_endpoints().endpoints
        assert kept.event_types == ["consent.revoked", "data.erased"]
        assert "kept endpoint" in first.stderr()
        port = kept.url.rsplit(":", 1)[1].split("/")[0]
        with listening(tmp_path, "--server", world.base, "--port", port) as second:  # v1a only
            event_id, body = _event("consent.revoked", brand, 1)
            headers = _sign_as_the_server(world, kept.id, event_id, body)
            reply = httpx.post(second.url, content=body, headers=headers)
            assert (reply.status_code, reply.json()) == (200, {"ack": "stopped_processing"})
            second.wait_for_line(lambda line: event_id in line)
            assert second.interrupt() == 0
        assert [e.id for e in client.webhook_endpoints().endpoints] == [kept.id]  # not ours to delete
        # SIGTERM stops a registered listener as Ctrl-C does: its own endpoint is deleted, the kept one stays.
        with listening(tmp_path, "--register", "--server", world.base, "--api-key", key, "--port", "0") as third:
            assert len(client.webhook_endpoints().endpoints) == 2
            assert third.interrupt(signal.SIGTERM) == 0
        assert [e.id for e in client.webhook_endpoints().endpoints] == [kept.id]


def test_listen_with_a_secret_refuses_other_secrets(world: Served, tmp_path) -> None:
    brand, key = _key(world)
    with BrandClient(world.base, key) as client:
        made = client.create_webhook_endpoint("http://127.0.0.1:9/unused", ["consent.revoked"])
        other = client.create_webhook_endpoint("http://127.0.0.1:9/other", ["consent.revoked"])
    env = {"CONSENT_LEDGER_WEBHOOK_SECRET": made.secret}
    with listening(tmp_path, "--port", "0", env=env) as listener:  # v1 only, the secret from the environment
        event_id, body = _event("data.erased", brand, 3)
        ours = httpx.post(listener.url, content=body, headers=_sign_as_the_server(world, made.id, event_id, body))
        assert (ours.status_code, ours.json()) == (200, {"ack": "deleted"})
        theirs = httpx.post(listener.url, content=body, headers=_sign_as_the_server(world, other.id, event_id, body))
        assert theirs.status_code == 400
        assert "secret" in theirs.json()["detail"]
        assert listener.interrupt() == 0
    assert made.secret not in listener.stderr() + listener.stdout()


def test_bad_flags_and_a_refusing_server_are_clear_errors(chain, tmp_path) -> None:
    nothing = run_listen(tmp_path, "--port", "0")
    assert nothing.returncode == 1
    assert "nothing to verify webhooks with" in nothing.stderr
    half = run_listen(tmp_path, "--register", "--port", "0", "--server", "http://127.0.0.1:9")
    assert half.returncode == 1
    assert "--api-key" in half.stderr
    bad = run_listen(tmp_path, "--secret", "not-a-secret", "--port", "0")
    assert bad.returncode == 1
    assert "whsec_" in bad.stderr
    unreachable = run_listen(tmp_path, "--server", "http://127.0.0.1:9", "--port", "0")
    assert unreachable.returncode == 1
    assert "no answer" in unreachable.stderr
    # A server that allows webhooks only to public https addresses (as in production) refuses the loopback URL.
    strict_db = f"sqlite:///{tmp_path / 'strict.db'}"
    with served(chain, strict_db, tmp_path, webhook_dev_destinations=False) as strict:
        _, key = _key(strict)
        refused = run_listen(tmp_path, "--register", "--server", strict.base, "--api-key", key, "--port", "0")
        assert refused.returncode == 1
        assert "refused to register" in refused.stderr
        assert "CONSENT_WEBHOOK_DEV_DESTINATIONS" in refused.stderr
        with BrandClient(strict.base, key) as client:
            assert client.webhook_endpoints().endpoints == []
        assert key not in refused.stderr
