"""Every way a signed message must fail, each asserting the contract's custom error and its context."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest

from consent_ledger.chain import eip712
from consent_ledger.chain.deploy import ensure_deployed
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.tx import TxSender
from consent_ledger.domain import PurposeTerms, RevokeRequest, uniform_terms
from consent_ledger.errors import ContractRevertError
from support import DAY, NOTICE, grant_request, malleate, new_account, sign_grant, sign_revoke

pytestmark = pytest.mark.chain


@contextmanager
def refused(name: str, **context: object) -> Iterator[None]:
    with pytest.raises(ContractRevertError) as caught:
        yield
    assert caught.value.name == name, caught.value
    for key, value in context.items():
        got = caught.value.args_by_name[key]
        if isinstance(got, str) and isinstance(value, str):
            assert got.lower() == value.lower(), (key, got, value)
        else:
            assert got == value, (key, got, value)


def test_wrong_signer(chain, ledger: Ledger, relayer: TxSender) -> None:
    customer, impostor, brand = new_account(), new_account(), new_account().address
    request = grant_request(customer.address, brand, chain.now())
    with refused("ConsentLedgerInvalidSignature", customer=customer.address, brand=brand):
        ledger.grant_by_sig(relayer, request, sign_grant(ledger, impostor, request))
    assert ledger.nonce_of(customer.address, brand) == 0


def test_tampered_message(chain, ledger: Ledger, relayer: TxSender) -> None:
    customer, brand = new_account(), new_account().address
    request = grant_request(customer.address, brand, chain.now(), categories=0b1)
    signature = sign_grant(ledger, customer, request)
    with refused("ConsentLedgerInvalidSignature"):
        ledger.grant_by_sig(relayer, replace(request, terms=uniform_terms(0b11, request.purposes)), signature)


def test_replayed_signature(chain, ledger: Ledger, relayer: TxSender) -> None:
    customer, brand = new_account(), new_account().address
    request = grant_request(customer.address, brand, chain.now())
    signature = sign_grant(ledger, customer, request)
    ledger.grant_by_sig(relayer, request, signature)
    with refused("ConsentLedgerInvalidNonce", expected=1, provided=0):
        ledger.grant_by_sig(relayer, request, signature)


def test_signature_for_another_chain(chain, ledger: Ledger, relayer: TxSender) -> None:
    customer, brand = new_account(), new_account().address
    request = grant_request(customer.address, brand, chain.now())
    other = eip712.Domain(chain_id=1, verifying_contract=ledger.address)
    signature = eip712.sign_digest(customer.key, eip712.grant_digest(other, request))
    with refused("ConsentLedgerInvalidSignature"):
        ledger.grant_by_sig(relayer, request, signature)


def test_signature_for_another_contract(chain, ledger: Ledger, relayer: TxSender, tmp_path) -> None:
    second, _ = ensure_deployed(chain.rpc, relayer, chain.artifacts["ConsentLedger"], tmp_path)
    assert second.address.lower() != ledger.address.lower()
    other = Ledger(chain.rpc, second.address, chain.artifacts["ConsentLedger"].abi)
    customer, brand = new_account(), new_account().address
    request = grant_request(customer.address, brand, chain.now())
    signature = sign_grant(other, customer, request)
    with refused("ConsentLedgerInvalidSignature"):
        ledger.grant_by_sig(relayer, request, signature)
    other.grant_by_sig(relayer, request, signature)  # valid where it was meant for
    assert other.is_allowed(customer.address, brand, 1, 1)


def test_deadline_passed(chain, ledger: Ledger, relayer: TxSender) -> None:
    customer, brand = new_account(), new_account().address
    request = grant_request(customer.address, brand, chain.now(), deadline_in=60)
    signature = sign_grant(ledger, customer, request)
    chain.travel(120)
    with refused("ConsentLedgerSignatureExpired", deadline=request.deadline):
        ledger.grant_by_sig(relayer, request, signature)


def test_expiry_in_the_past(chain, ledger: Ledger, relayer: TxSender) -> None:
    customer, brand = new_account(), new_account().address
    request = grant_request(customer.address, brand, chain.now(), expires_in=-1)
    with refused("ConsentLedgerExpiryInPast", expiresAt=request.expires_at):
        ledger.grant_by_sig(relayer, request, sign_grant(ledger, customer, request))


def test_nonce_out_of_order(chain, ledger: Ledger, relayer: TxSender) -> None:
    customer, brand = new_account(), new_account().address
    request = grant_request(customer.address, brand, chain.now(), nonce=1)
    with refused("ConsentLedgerInvalidNonce", customer=customer.address, brand=brand, expected=0, provided=1):
        ledger.grant_by_sig(relayer, request, sign_grant(ledger, customer, request))


def test_old_grant_replayed_after_revoke(chain, ledger: Ledger, relayer: TxSender) -> None:
    customer, brand = new_account(), new_account().address
    request = grant_request(customer.address, brand, chain.now())
    signature = sign_grant(ledger, customer, request)
    ledger.grant_by_sig(relayer, request, signature)
    revoke = RevokeRequest(customer.address, brand, 1, chain.now() + DAY)
    ledger.revoke_by_sig(relayer, revoke, sign_revoke(ledger, customer, revoke))
    with refused("ConsentLedgerInvalidNonce", expected=2, provided=0):
        ledger.grant_by_sig(relayer, request, signature)
    assert not ledger.is_allowed(customer.address, brand, 1, 1)


def test_replayed_revoke(chain, ledger: Ledger, relayer: TxSender) -> None:
    customer, brand = new_account(), new_account().address
    revoke = RevokeRequest(customer.address, brand, 0, chain.now() + DAY)
    signature = sign_revoke(ledger, customer, revoke)
    ledger.revoke_by_sig(relayer, revoke, signature)
    with refused("ConsentLedgerInvalidNonce", expected=1, provided=0):
        ledger.revoke_by_sig(relayer, revoke, signature)


def test_revoke_by_wrong_signer_and_after_deadline(chain, ledger: Ledger, relayer: TxSender) -> None:
    customer, brand = new_account(), new_account().address
    revoke = RevokeRequest(customer.address, brand, 0, chain.now() + 30)
    with refused("ConsentLedgerInvalidSignature"):
        ledger.revoke_by_sig(relayer, revoke, sign_revoke(ledger, new_account(), revoke))
    signature = sign_revoke(ledger, customer, revoke)
    chain.travel(60)
    with refused("ConsentLedgerSignatureExpired"):
        ledger.revoke_by_sig(relayer, revoke, signature)


def test_malleable_high_s_signature(chain, ledger: Ledger, relayer: TxSender) -> None:
    customer, brand = new_account(), new_account().address
    request = grant_request(customer.address, brand, chain.now())
    signature = sign_grant(ledger, customer, request)
    twin = malleate(signature)
    # The twin is a mathematically valid signature by the same key...
    assert eip712.recover_signer(eip712.grant_digest(ledger.domain(), request), twin) == customer.address
    # ...which the contract refuses, so a signature cannot be reshaped and replayed.
    with refused("ConsentLedgerInvalidSignature"):
        ledger.grant_by_sig(relayer, request, twin)


def test_malformed_signature_lengths(chain, ledger: Ledger, relayer: TxSender) -> None:
    customer, brand = new_account(), new_account().address
    request = grant_request(customer.address, brand, chain.now())
    signature = sign_grant(ledger, customer, request)
    for bad in (b"", signature[:64], signature + b"\0"):
        with refused("ConsentLedgerInvalidSignature"):
            ledger.grant_by_sig(relayer, request, bad)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"categories": 0}, "ConsentLedgerNoCategories"),
        ({"purposes": 0}, "ConsentLedgerNoPurposes"),
    ],
)
def test_empty_masks(chain, ledger: Ledger, relayer: TxSender, changes, error) -> None:
    customer, brand = new_account(), new_account().address
    request = grant_request(customer.address, brand, chain.now(), **changes)
    with refused(error, customer=customer.address, brand=brand):
        ledger.grant_by_sig(relayer, request, sign_grant(ledger, customer, request))


def test_zero_brand(chain, ledger: Ledger, relayer: TxSender) -> None:
    customer = new_account()
    request = grant_request(customer.address, "0x" + "00" * 20, chain.now())
    with refused("ConsentLedgerZeroBrand", customer=customer.address):
        ledger.grant_by_sig(relayer, request, sign_grant(ledger, customer, request))


def test_direct_grant_checks_terms(chain, ledger: Ledger) -> None:
    customer, brand = new_account(), new_account().address
    chain.fund(customer.address)
    own = ledger.sender(customer.key)
    now = chain.now()
    with refused("ConsentLedgerNoCategories"):
        ledger.grant(own, brand, (PurposeTerms(1, 0),), now + DAY, NOTICE)
    with refused("ConsentLedgerExpiryInPast"):
        ledger.grant(own, brand, (PurposeTerms(1, 1),), now - 1, NOTICE)
    with refused("ConsentLedgerExpiryTooFar"):
        ledger.grant(own, brand, (PurposeTerms(1, 1),), now + 731 * DAY, NOTICE)
    # a purpose named twice: its two masks make a list one longer than the mask has bits
    with refused("ConsentLedgerTermsMismatch", purposeCount=1, categoriesCount=2):
        ledger.grant(own, brand, (PurposeTerms(2, 1), PurposeTerms(2, 4)), now + DAY, NOTICE)
    grant = ledger.abi.function("grant")
    for purposes, masks in ((0b110, [1]), (0b10, [1, 2]), (0b111, [])):
        with refused("ConsentLedgerTermsMismatch", purposeCount=purposes.bit_count(), categoriesCount=len(masks)):
            own.transact(ledger.address, grant.encode([brand, purposes, masks, now + DAY, NOTICE]))
    with refused("ConsentLedgerNoCategories", index=1):
        own.transact(ledger.address, grant.encode([brand, 0b11, [1, 0], now + DAY, NOTICE]))
    assert ledger.nonce_of(customer.address, brand) == 0
