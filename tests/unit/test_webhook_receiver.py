"""The demo receiver behind `consent-ledger webhook listen` (issue 11 item 5): a webhook signed by the server's
own signing code (`consent_ledger.webhooks.signing`) is answered 200 with the acknowledgement of its type and
handed on once; a tampered, wrongly signed, stale or future-dated one is refused with 400, a replay of one
already received with 409, and none of them is handed on; a redelivery (same id, signed again later) is
acknowledged again but marked duplicate. Over HTTP on loopback the same answers come back, on a kept-alive
connection, and an oversized body is refused before it is read."""

from __future__ import annotations

import http.client
import json
import time

import httpx
import pytest

from consent_ledger.apimodels.webhook_events import EVENT_TYPES
from consent_ledger.cli.main import build_parser
from consent_ledger.client import ServiceFailedError, WebhookVerifier
from consent_ledger.client.receiver import (
    MAX_BODY,
    Received,
    ReceiverServer,
    WebhookReceiver,
    acknowledgement,
    fetch_public_keys,
)
from consent_ledger.errors import ConfigError
from consent_ledger.webhooks.signing import SigningKey, signature_headers

SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
OTHER_SECRET = "whsec_" + "enl4d3Z1dHNycXBvbm1sa2ppaGdmZWRjYmE5ODc2NTQ="
KEY = SigningKey(bytes(range(32)))
CUSTOMER = "0x" + "11" * 20
BRAND = "0x" + "22" * 20
EXPECTED_ACK = {
    "consent.granted": "received",
    "consent.narrowed": "received",
    "consent.revoked": "stopped_processing",
    "consent.expired": "stopped_processing",
    "data.erased": "deleted",
    "data.released": "received",
}


def event_id(n: int) -> str:
    return "evt_" + f"{n:064x}"


def body(kind: str = "consent.revoked", n: int = 1) -> bytes:
    data = {
        "event_id": event_id(n),
        "customer": CUSTOMER,
        "brand": BRAND,
        "occurred_at": "2026-12-03T10:00:00+00:00",
        "block_number": 40,
        "tx_hash": "0x" + "33" * 32,
    }
    return json.dumps({"type": kind, "timestamp": "2026-12-03T10:00:02+00:00", "data": data}).encode()


def signed(payload: bytes, n: int = 1, stamp: int | None = None, secrets: tuple[str, ...] = (SECRET,)) -> dict:
    when = int(time.time()) if stamp is None else stamp
    return signature_headers(event_id(n), when, payload, list(secrets), KEY)


def make_receiver(**verifier: object) -> tuple[WebhookReceiver, list[Received]]:
    got: list[Received] = []
    trusted = verifier or {"secrets": [SECRET], "public_keys": [KEY.public_key]}
    return WebhookReceiver(WebhookVerifier(**trusted), on_event=got.append, path="/hook"), got  # type: ignore[arg-type]


def answer_json(answer) -> dict:
    return json.loads(answer.body)


def test_every_event_type_is_acknowledged_as_the_interface_says() -> None:
    assert EXPECTED_ACK.keys() == set(EVENT_TYPES)
    receiver, got = make_receiver()
    for n, kind in enumerate(EVENT_TYPES):
        payload = body(kind, n)
        answer = receiver.handle("POST", "/hook", payload, signed(payload, n))
        assert answer.status == 200
        assert answer_json(answer) == {"ack": EXPECTED_ACK[kind]} == {"ack": acknowledgement(kind)}
    assert [r.webhook.event.type for r in got] == list(EVENT_TYPES)
    assert [r.duplicate for r in got] == [False] * len(EVENT_TYPES)
    line = got[2].line()
    for shown in ("consent.revoked", CUSTOMER, BRAND, "2026-12-03T10:00:00+00:00", event_id(2), "stopped_processing"):
        assert shown in line
    assert "\n" not in line


def test_v1_alone_and_v1a_alone_verify() -> None:
    payload = body()
    for trusted in ({"secrets": [SECRET]}, {"public_keys": [KEY.public_key]}):
        receiver, got = make_receiver(**trusted)
        assert receiver.handle("POST", "/hook", payload, signed(payload)).status == 200
        assert len(got) == 1


@pytest.mark.parametrize(
    "case",
    ["tampered body", "other secret", "other key", "stale", "future", "no signature", "not an event"],
)
def test_bad_webhooks_are_refused_with_400_and_not_handed_on(case: str) -> None:
    receiver, got = make_receiver()
    payload = body()
    headers = signed(payload)
    if case == "tampered body":
        payload = payload.replace(b"consent.revoked", b"consent.granted")
    elif case == "other secret":
        headers = signed(payload, secrets=(OTHER_SECRET,))
    elif case == "other key":
        headers = signature_headers(event_id(1), int(time.time()), payload, [SECRET], SigningKey.generate())
    elif case == "stale":
        headers = signed(payload, stamp=int(time.time()) - 3600)
    elif case == "future":
        headers = signed(payload, stamp=int(time.time()) + 3600)
    elif case == "no signature":
        del headers["webhook-signature"]
    elif case == "not an event":
        payload = b'{"type": "consent.revoked"}'
        headers = signed(payload)
    answer = receiver.handle("POST", "/hook", payload, headers)
    assert answer.status == 400, case
    assert answer.content_type == "application/problem+json"
    assert answer_json(answer)["status"] == 400
    assert answer_json(answer)["detail"]
    assert got == []


def test_a_replay_is_refused_and_a_redelivery_is_acknowledged_once_more_as_a_duplicate() -> None:
    receiver, got = make_receiver()
    payload = body("data.erased")
    first = signed(payload, stamp=int(time.time()) - 5)
    assert receiver.handle("POST", "/hook", payload, first).status == 200
    replay = receiver.handle("POST", "/hook", payload, dict(first))
    assert replay.status == 409
    assert "replay" in answer_json(replay)["detail"]
    assert len(got) == 1
    again = receiver.handle("POST", "/hook", payload, signed(payload))  # the sender signs a retry anew
    assert again.status == 200
    assert answer_json(again) == {"ack": "deleted"}
    assert [r.duplicate for r in got] == [False, True]
    assert "again" in got[1].line()
    # Signed with a fresh timestamp by someone else: still refused by the signature, not taken as a retry.
    forged = dict(first, **{"webhook-timestamp": str(int(time.time()))})
    assert receiver.handle("POST", "/hook", payload, forged).status == 400
    assert len(got) == 2


def test_wrong_path_method_size_and_no_verifier_are_refused() -> None:
    receiver, got = make_receiver()
    payload = body()
    assert receiver.handle("POST", "/other", payload, signed(payload)).status == 404
    assert receiver.handle("GET", "/hook", b"", {}).status == 405
    big = b" " * (MAX_BODY + 1)
    assert receiver.handle("POST", "/hook", big, signed(big)).status == 413
    waiting = WebhookReceiver(None, path="/hook")
    assert waiting.handle("POST", "/hook", payload, signed(payload)).status == 503
    waiting.use(WebhookVerifier(secrets=[SECRET]))
    assert waiting.handle("POST", "/hook", payload, signed(payload)).status == 200
    assert got == []


def test_over_http_on_loopback_with_keep_alive() -> None:
    receiver, got = make_receiver()
    with ReceiverServer(receiver, port=0) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.url.endswith("/hook")
        port = int(server.url.rsplit(":", 1)[1].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            statuses = []
            for n, kind in enumerate(("consent.revoked", "consent.expired", "consent.granted")):
                payload = body(kind, n)
                conn.request("POST", "/hook", payload, signed(payload, n))
                reply = conn.getresponse()
                statuses.append((reply.status, json.loads(reply.read())))
            tampered = body(n=9)
            conn.request("POST", "/hook", tampered.replace(CUSTOMER.encode(), b"0x" + b"44" * 20), signed(tampered, 9))
            refused = conn.getresponse()
            refused_body = json.loads(refused.read())
        finally:
            conn.close()
        assert statuses == [
            (200, {"ack": "stopped_processing"}),
            (200, {"ack": "stopped_processing"}),
            (200, {"ack": "received"}),
        ]
        assert (refused.status, refused.getheader("content-type")) == (400, "application/problem+json")
        assert "signature" in refused_body["detail"]
        huge = httpx.post(server.url, content=b"x" * (MAX_BODY + 1), headers=signed(b"x"), timeout=10)
        assert huge.status_code == 413
        # Not Consent Ledger: the well-known URL is not there, said plainly.
        with pytest.raises(ServiceFailedError, match="404"):
            fetch_public_keys(server.url.removesuffix("/hook"))
    assert [r.webhook.event.data.event_id for r in got] == [event_id(0), event_id(1), event_id(2)]


def test_only_loopback_addresses_are_bound() -> None:
    receiver, _ = make_receiver()
    for host in ("0.0.0.0", "192.168.1.10", "localhost.example"):
        with pytest.raises(ConfigError, match="loopback"):
            ReceiverServer(receiver, host=host, port=0)


def test_the_listen_command_defaults_to_port_8787_and_every_event_type() -> None:
    args = build_parser().parse_args(["webhook", "listen", "--server", "http://127.0.0.1:8000"])
    assert (args.port, args.path, args.events, args.register, args.keep) == (8787, "/", list(EVENT_TYPES), False, False)
