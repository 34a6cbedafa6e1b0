"""The relayer's chain side: batches go out, and every item gets exactly its own outcome."""

from __future__ import annotations

import pytest

from consent_ledger.chain.events import decode_logs
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.tx import TxSender
from consent_ledger.domain import RevokeRequest
from consent_ledger.errors import ChainError
from consent_ledger.relayer.items import Item, Kind, Status
from consent_ledger.relayer.submitter import Submitter, outcomes_from_events
from support import DAY, grant_request, new_account, sign_grant, sign_revoke

pytestmark = pytest.mark.chain


def test_mixed_batch_outcomes(chain, ledger: Ledger, relayer: TxSender) -> None:
    brand, now = new_account().address, chain.now()
    customers = [new_account() for _ in range(4)]
    items = []
    for n, customer in enumerate(customers):
        request = grant_request(customer.address, brand, now)
        signer = customers[0] if n == 2 else customer  # item 2 is signed by the wrong key
        items.append(Item(n, Kind.GRANT, request, sign_grant(ledger, signer, request)))
    # Revoke for customer 3 with nonce 0 races its own grant: revocations go first, so the grant then
    # carries a stale nonce and is rejected.
    revoke = RevokeRequest(customers[3].address, brand, 0, now + DAY)
    items.append(Item(9, Kind.REVOKE, revoke, sign_revoke(ledger, customers[3], revoke)))

    submitter, outcomes = Submitter(ledger), {}
    for kind in (Kind.REVOKE, Kind.GRANT):  # one transaction per kind, revocations first (as the worker does)
        group = [i for i in items if i.kind is kind]
        data, gas = submitter.batch_call(kind, group)
        receipt = relayer.transact(ledger.address, data, gas)
        for outcome in outcomes_from_events(group, decode_logs(receipt.logs, ledger.address), receipt.tx_hash):
            outcomes[outcome.item_id] = outcome
    assert {k: o.status for k, o in outcomes.items()} == {
        0: Status.CONFIRMED,
        1: Status.CONFIRMED,
        2: Status.REJECTED,
        3: Status.REJECTED,
        9: Status.CONFIRMED,
    }
    assert outcomes[2].reason == "invalid_signature"
    assert outcomes[3].reason == "invalid_nonce"
    assert outcomes[9].tx_hash != outcomes[0].tx_hash  # one transaction per kind
    for outcome in outcomes.values():
        block = chain.rpc.get_block(outcome.block_number)
        assert block["hash"] == outcome.block_hash
    assert ledger.is_allowed(customers[0].address, brand, 1, 1)
    assert not ledger.is_allowed(customers[2].address, brand, 1, 1)


def test_an_item_without_its_event_is_an_error(chain, ledger: Ledger, relayer: TxSender) -> None:
    customer, brand = new_account(), new_account().address
    request = grant_request(customer.address, brand, chain.now())
    done = Item(1, Kind.GRANT, request, sign_grant(ledger, customer, request))
    result = ledger.grant_batch(relayer, [(done.request, done.signature)])
    other = Item(2, Kind.GRANT, grant_request(new_account().address, brand, chain.now()), b"")
    with pytest.raises(ChainError, match="no event for outbox item 2"):
        outcomes_from_events([done, other], result.events, result.receipt.tx_hash)
