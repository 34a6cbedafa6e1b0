"""Every way a grant or revocation reaches the chain, and what it leaves behind."""

from __future__ import annotations

import pytest

from consent_ledger.chain.events import Granted, Rejected, Rejection, Revoked
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.tx import TxSender
from consent_ledger.domain import PurposeTerms, RevokeRequest
from consent_ledger.errors import ContractRevertError
from support import DAY, NOTICE, grant_request, new_account, sign_grant, sign_revoke

pytestmark = pytest.mark.chain


def test_direct_grant_then_revoke(chain, ledger: Ledger) -> None:
    customer, brand = new_account(), new_account().address
    chain.fund(customer.address)
    own = ledger.sender(customer.key)
    now = chain.now()

    terms = (PurposeTerms(0, 0b101), PurposeTerms(3, 0b10))
    result = ledger.grant(own, brand, terms, now + DAY, NOTICE)
    (event,) = result.events
    assert isinstance(event, Granted)
    assert (event.customer, event.brand, event.terms) == (customer.address, brand, terms)
    assert (event.expires_at, event.notice_hash, event.nonce) == (now + DAY, "0x" + NOTICE.hex(), 0)
    state = ledger.grant_of(customer.address, brand)
    assert (state.terms, state.expires_at, state.nonce) == (terms, now + DAY, 1)
    assert state.granted_at == int(ledger.rpc.get_block(result.receipt.block_number)["timestamp"], 16)
    assert ledger.is_allowed(customer.address, brand, 0b100, 0b1)
    assert not ledger.is_allowed(customer.address, brand, 0b010, 0b1)  # granted for purpose 3 only
    assert ledger.is_allowed(customer.address, brand, 0b010, 0b1000)
    assert not ledger.is_allowed(customer.address, brand, 0b010, 0b1001)  # not for both

    (revoked,) = ledger.revoke(own, brand).events
    assert isinstance(revoked, Revoked)
    assert revoked.nonce == 1
    state = ledger.grant_of(customer.address, brand)
    assert (state.terms, state.expires_at, state.granted_at, state.nonce) == ((), 0, 0, 2)
    assert not ledger.is_allowed(customer.address, brand, 0b100, 0b1)


def test_signed_grant_relayed_by_anyone(chain, ledger: Ledger, relayer: TxSender) -> None:
    customer, brand = new_account(), new_account().address
    request = grant_request(customer.address, brand, chain.now(), categories=0b1001, purposes=0b10)
    result = ledger.grant_by_sig(relayer, request, sign_grant(ledger, customer, request))
    (event,) = result.events
    assert isinstance(event, Granted)
    assert event.customer == customer.address
    assert event.nonce == 0
    assert ledger.is_allowed(customer.address, brand, 0b1001, 0b10)
    assert ledger.nonce_of(customer.address, brand) == 1


def test_signed_update_replaces_the_grant(chain, ledger: Ledger, relayer: TxSender) -> None:
    customer, brand = new_account(), new_account().address
    first = grant_request(customer.address, brand, chain.now(), categories=0b11)
    ledger.grant_by_sig(relayer, first, sign_grant(ledger, customer, first))
    second = grant_request(customer.address, brand, chain.now(), categories=0b100, nonce=1)
    ledger.grant_by_sig(relayer, second, sign_grant(ledger, customer, second))
    assert ledger.is_allowed(customer.address, brand, 0b100, 0b11)
    assert not ledger.is_allowed(customer.address, brand, 0b1, 0b11)  # replaced, not merged


def test_signed_revoke(chain, ledger: Ledger, relayer: TxSender) -> None:
    customer, brand = new_account(), new_account().address
    request = grant_request(customer.address, brand, chain.now())
    ledger.grant_by_sig(relayer, request, sign_grant(ledger, customer, request))
    revoke = RevokeRequest(customer.address, brand, 1, chain.now() + DAY)
    (event,) = ledger.revoke_by_sig(relayer, revoke, sign_revoke(ledger, customer, revoke)).events
    assert isinstance(event, Revoked)
    assert event.nonce == 1
    assert not ledger.is_allowed(customer.address, brand, 1, 1)


def test_grants_to_different_brands_do_not_conflict(chain, ledger: Ledger, relayer: TxSender) -> None:
    customer, brand_a, brand_b = new_account(), new_account().address, new_account().address
    a = grant_request(customer.address, brand_a, chain.now(), categories=0b1)
    b = grant_request(customer.address, brand_b, chain.now(), categories=0b10)  # nonce 0 too: own pair
    ledger.grant_by_sig(relayer, a, sign_grant(ledger, customer, a))
    ledger.grant_by_sig(relayer, b, sign_grant(ledger, customer, b))
    ledger.revoke(ledger.sender(_funded(chain, customer)), brand_a)
    assert not ledger.is_allowed(customer.address, brand_a, 0b1, 0b11)
    assert ledger.is_allowed(customer.address, brand_b, 0b10, 0b11)


def _funded(chain, account):
    chain.fund(account.address)
    return account.key


def test_batch_with_one_bad_item_lands_the_good_ones(chain, ledger: Ledger, relayer: TxSender) -> None:
    brand, now = new_account().address, chain.now()
    customers = [new_account() for _ in range(5)]
    items = []
    for customer in customers:
        request = grant_request(customer.address, brand, now)
        items.append((request, sign_grant(ledger, customer, request)))
    impostor = new_account()
    bad_request = items[2][0]
    items[2] = (bad_request, sign_grant(ledger, impostor, bad_request))  # signed by the wrong key

    result = ledger.grant_batch(relayer, items)
    granted = [e for e in result.events if isinstance(e, Granted)]
    rejected = [e for e in result.events if isinstance(e, Rejected)]
    assert [e.customer for e in granted] == [c.address for i, c in enumerate(customers) if i != 2]
    assert len(rejected) == 1
    assert rejected[0].kind == "grant"
    assert rejected[0].customer == customers[2].address
    assert rejected[0].reason is Rejection.INVALID_SIGNATURE
    for i, customer in enumerate(customers):
        assert ledger.is_allowed(customer.address, brand, 0b111, 0b11) is (i != 2)


def test_batch_reports_each_reason(chain, ledger: Ledger, relayer: TxSender) -> None:
    brand, now = new_account().address, chain.now()

    def signed(**kwargs):
        customer = new_account()
        request = grant_request(customer.address, brand, now, **kwargs)
        return request, sign_grant(ledger, customer, request)

    items = [
        signed(),
        signed(deadline_in=-1),
        signed(nonce=5),
        signed(categories=0),
        signed(purposes=0),
        signed(expires_in=-10),
        signed(terms=(PurposeTerms(1, 1), PurposeTerms(1, 2))),  # two masks for one purpose
        signed(),
    ]
    result = ledger.grant_batch(relayer, items)
    reasons = [e.reason for e in result.events if isinstance(e, Rejected)]
    assert reasons == [
        Rejection.SIGNATURE_EXPIRED,
        Rejection.INVALID_NONCE,
        Rejection.NO_CATEGORIES,
        Rejection.NO_PURPOSES,
        Rejection.EXPIRY_IN_PAST,
        Rejection.TERMS_MISMATCH,
    ]
    assert sum(isinstance(e, Granted) for e in result.events) == 2


def test_same_pair_twice_in_one_batch_applies_in_order(chain, ledger: Ledger, relayer: TxSender) -> None:
    customer, brand, now = new_account(), new_account().address, chain.now()
    first = grant_request(customer.address, brand, now, categories=0b1)
    second = grant_request(customer.address, brand, now, categories=0b10, nonce=1)
    replay = first
    result = ledger.grant_batch(
        relayer,
        [(r, sign_grant(ledger, customer, r)) for r in (first, second, replay)],
    )
    assert [type(e).__name__ for e in result.events] == ["Granted", "Granted", "Rejected"]
    assert ledger.grant_of(customer.address, brand).categories == 0b10


def test_revoke_batch(chain, ledger: Ledger, relayer: TxSender) -> None:
    brand, now = new_account().address, chain.now()
    customers = [new_account() for _ in range(3)]
    grants = [grant_request(c.address, brand, now) for c in customers]
    ledger.grant_batch(relayer, [(g, sign_grant(ledger, c, g)) for g, c in zip(grants, customers, strict=True)])
    revokes = [RevokeRequest(c.address, brand, 1, now + DAY) for c in customers]
    signed = [(r, sign_revoke(ledger, c, r)) for r, c in zip(revokes, customers, strict=True)]
    signed[1] = (revokes[1], sign_revoke(ledger, customers[0], revokes[1]))  # wrong signer
    result = ledger.revoke_batch(relayer, signed)
    assert [type(e).__name__ for e in result.events] == ["Revoked", "Rejected", "Revoked"]
    assert [ledger.is_allowed(c.address, brand, 1, 1) for c in customers] == [False, True, False]


def test_revoke_also_cancels_an_unsubmitted_signed_grant(chain, ledger: Ledger, relayer: TxSender) -> None:
    customer, brand = new_account(), new_account().address
    pending = grant_request(customer.address, brand, chain.now())
    signature = sign_grant(ledger, customer, pending)
    chain.fund(customer.address)
    ledger.revoke(ledger.sender(customer.key), brand)  # nonce 0 consumed
    with pytest.raises(ContractRevertError, match="ConsentLedgerInvalidNonce"):
        ledger.grant_by_sig(relayer, pending, signature)
