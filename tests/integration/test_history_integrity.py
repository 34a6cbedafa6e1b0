"""The history cannot be polluted by strangers' junk, and no event is skipped, however full a block is."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from api_support import AUDITOR, Api
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.tx import TxSender
from consent_ledger.domain import RevokeRequest
from support import grant_request, new_account

pytestmark = pytest.mark.chain

JUNK_SIGNATURE = b"\x01" * 65
EMAIL = (["contact.email"], ["marketing.email"])


def _stranger(chain, ledger: Ledger) -> TxSender:
    account = new_account()
    chain.fund(account.address)
    return ledger.sender(account.key)


def _junk_revokes(customer: str, brand: str, count: int) -> list[tuple[RevokeRequest, bytes]]:
    """Batch items naming `customer` that the contract rejects (long expired), cheaply."""
    return [(RevokeRequest(customer, brand, n, 0), JUNK_SIGNATURE) for n in range(count)]


def _pages(api: Api, url: str, headers: dict[str, str], **params: object) -> tuple[list[dict], int]:
    items, after, pages = [], None, 0
    while True:
        query = {**params, **({"after": after} if after else {})}
        reply = api.client.get(url, params=query, headers=headers)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        items += body["items"]
        pages += 1
        after = body["next"]
        if after is None:
            return items, pages


@contextmanager
def one_block(chain) -> Iterator[None]:
    """Transactions sent inside land in ONE block, mined on the way out."""
    chain.rpc.request("evm_setAutomine", [False])
    try:
        yield
        chain.rpc.request("evm_mine", [])
    finally:
        chain.rpc.request("evm_setAutomine", [True])


def test_strangers_rejections_are_shown_with_their_sender_and_kept_out_of_the_customers_view(
    api, chain, relayer: TxSender
) -> None:
    brand, _ = api.brand()
    customer, auth = api.customer()
    api.grant(customer, auth, brand.address, *EMAIL)
    api.relay()
    ledger = api.context.ledger
    stranger = _stranger(chain, ledger)
    now = chain.now()
    # Anyone can pay for a batch of junk items naming the customer: each comes back as a rejection.
    ledger.revoke_batch(stranger, _junk_revokes(customer.address, brand.address, 2))
    ledger.grant_batch(stranger, [(grant_request(customer.address, brand.address, now, nonce=1), JUNK_SIGNATURE)])
    # The customer's own junk, and a rejection our relayer caused, do concern the customer.
    chain.fund(customer.address)
    ledger.revoke_batch(ledger.sender(customer.key), _junk_revokes(customer.address, brand.address, 1))
    ledger.revoke_batch(relayer, _junk_revokes(customer.address, brand.address, 1))
    api.context.indexer.backfill()

    ours = api.context.anchorer.sender.address
    auditor = api.sign_in(AUDITOR)
    everything = api.client.get("/v1/audit/history", params={"customer": customer.address}, headers=auditor).json()
    rejections = [(i["kind"], i["sender"]) for i in everything["items"] if i["kind"].endswith("_rejected")]
    assert sorted(rejections) == sorted(
        [
            ("revoke_rejected", stranger.address),
            ("revoke_rejected", stranger.address),
            ("grant_rejected", stranger.address),
            ("revoke_rejected", customer.address),
            ("revoke_rejected", relayer.address),
        ]
    )
    granted = next(i for i in everything["items"] if i["kind"] == "granted")
    assert granted["sender"] == ours  # the relayed grant: sent by our relayer

    mine = api.client.get("/v1/me/history", headers=auth).json()["items"]
    assert sorted((i["kind"], i["sender"]) for i in mine) == sorted(
        [
            ("granted", ours),
            ("revoke_rejected", customer.address),
            ("revoke_rejected", relayer.address),
        ]
    )
    assert stranger.address not in {i["sender"] for i in mine}


def test_a_block_with_more_than_a_thousand_events_is_paged_whole(api, chain, relayer: TxSender) -> None:
    brand, _ = api.brand()
    customer, auth = api.customer()
    ledger = api.context.ledger
    stranger = _stranger(chain, ledger)
    data = ledger.abi.function("revokeBatchBySig")

    def encoded(count: int) -> str:
        items = _junk_revokes(customer.address, brand.address, count)
        return data.encode([[((r.customer, r.brand, r.nonce, r.deadline), s) for r, s in items]])

    with one_block(chain):
        sent = [stranger.send(ledger.address, encoded(700), gas=12_000_000)]
        sent.append(relayer.send(ledger.address, encoded(500), gas=12_000_000))
    receipts = [relayer.wait(tx) for tx in sent]
    assert {r.status for r in receipts} == {1}
    assert len({r.block_number for r in receipts}) == 1  # one block, 1,200 events
    api.context.indexer.backfill()

    auditor = api.sign_in(AUDITOR)
    items, pages = _pages(api, "/v1/audit/history", auditor, customer=customer.address, limit=1000)
    assert pages == 2
    positions = [(i["block_number"], i["log_index"]) for i in items]
    assert len(items) == 1_200
    assert positions == sorted(set(positions))  # each once, in chain order
    assert [i["sender"] for i in items] == [stranger.address] * 700 + [relayer.address] * 500

    mine, pages = _pages(api, "/v1/me/history", auth, limit=150)
    assert pages == 4
    assert [(i["kind"], i["sender"]) for i in mine] == [("revoke_rejected", relayer.address)] * 500
    assert len({i["log_index"] for i in mine}) == 500


def test_history_cursors_are_checked(api) -> None:
    auditor = api.sign_in(AUDITOR)
    for bad in ("yesterday", "12.x3", "1" * 30, "5.e" + "9" * 30, "5.r12.not-a-uuid"):
        reply = api.client.get("/v1/audit/history", params={"after": bad}, headers=auditor)
        assert reply.status_code == 400, (bad, reply.text)
    assert api.client.get("/v1/audit/history", params={"after": "0"}, headers=auditor).status_code == 200
