"""The API accepts (202) only what the contract will take, and a rejection never locks a customer out."""

from __future__ import annotations

import pytest
from eth_account import Account

from api_support import Api
from consent_ledger.chain.tx import TxSender
from consent_ledger.domain import PurposeTerms
from support import DAY, NOTICE

pytestmark = pytest.mark.chain

URL = "/v1/me/submissions"
EMAIL = {"categories": ["contact.email"], "purposes": ["marketing.email"]}


def _typed(api: Api, auth: dict[str, str], kind: str, **body: object) -> dict:
    reply = api.client.post(f"/v1/me/typed-data/{kind}", json=body, headers=auth)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def _signed(account, typed: dict) -> str:
    return "0x" + Account.sign_typed_data(account.key, full_message=typed).signature.hex()


def _submit(api: Api, auth: dict[str, str], kind: str, message: dict, signature: str):
    return api.client.post(URL, json={"kind": kind, "message": message, "signature": signature}, headers=auth)


def _refused(reply, status: int, words: str) -> None:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert words in reply.json()["detail"], reply.json()


def _nothing_stored(api: Api, auth: dict[str, str]) -> None:
    assert api.client.get(URL, headers=auth).json()["submissions"] == []


def test_a_signature_with_v_as_0_or_1_gets_400(api) -> None:
    brand, _ = api.brand()
    customer, auth = api.customer()
    typed = _typed(api, auth, "grant", brand=brand.address, **EMAIL)
    signature = bytes.fromhex(_signed(customer, typed)[2:])
    recovery_id = "0x" + (signature[:64] + bytes([signature[64] - 27])).hex()  # v written as 0/1
    _refused(_submit(api, auth, "grant", typed["message"], recovery_id), 400, "signature does not match")
    _nothing_stored(api, auth)
    assert _submit(api, auth, "grant", typed["message"], "0x" + signature.hex()).status_code == 202


def test_unregistered_brand_zero_brand_and_unpublished_notice_get_400(api) -> None:
    brand, _ = api.brand()
    customer, auth = api.customer()
    typed = _typed(api, auth, "grant", brand=brand.address, **EMAIL)

    def forged(**changes: object):
        """The customer signs a message the typed-data endpoint would never have produced."""
        edited = {**typed, "message": {**typed["message"], **changes}}
        return _submit(api, auth, "grant", edited["message"], _signed(customer, edited))

    _refused(forged(brand=Account.create().address), 400, "not a registered brand")
    _refused(forged(brand="0x" + "00" * 20), 400, "brand 0x0 is not a brand")
    _refused(forged(noticeHash="0x" + NOTICE.hex()), 400, "noticeHash is not the hash of the published")

    revoke = _typed(api, auth, "revoke", brand=brand.address)
    for other in (Account.create().address, "0x" + "00" * 20):  # a revocation of nothing, at our gas
        edited = {**revoke, "message": {**revoke["message"], "brand": other}}
        _refused(_submit(api, auth, "revoke", edited["message"], _signed(customer, edited)), 400, "brand")
    _nothing_stored(api, auth)
    api.relay()
    assert api.context.ledger.nonce_of(customer.address, "0x" + "00" * 20) == 0  # nothing was relayed


def test_revoking_a_brand_that_is_not_registered_stays_possible_while_a_grant_exists(api, chain) -> None:
    customer, auth = api.customer()
    elsewhere = Account.create().address  # a brand this backend does not know, granted from the wallet
    chain.fund(customer.address)
    api.context.ledger.grant(
        api.context.ledger.sender(customer.key), elsewhere, (PurposeTerms(0, 1),), chain.now() + DAY, NOTICE
    )
    typed = _typed(api, auth, "revoke", brand=elsewhere)
    assert _submit(api, auth, "revoke", typed["message"], _signed(customer, typed)).status_code == 202
    api.relay()
    assert not api.context.ledger.is_allowed(customer.address, elsewhere, 1, 1)
    reply = api.client.post("/v1/me/typed-data/revoke", json={"brand": elsewhere}, headers=auth)
    _refused(reply, 400, "no grant to it to revoke")  # nothing left to revoke


def test_after_an_onchain_rejection_the_same_nonce_can_be_signed_again(api, chain) -> None:
    brand, _ = api.brand()
    customer, auth = api.customer()
    first = _typed(api, auth, "grant", brand=brand.address, **EMAIL)
    accepted = _submit(api, auth, "grant", first["message"], _signed(customer, first))
    assert accepted.status_code == 202
    chain.travel(2 * 3_600)  # the relayer was down for two hours: the signature's deadline passed
    api.relay()
    settled = api.client.get(f"{URL}/{accepted.json()['id']}", headers=auth).json()
    assert (settled["status"], settled["reason"]) == ("rejected", "signature_expired")
    assert api.context.ledger.nonce_of(customer.address, brand.address) == 0  # a rejection uses no nonce

    again = _typed(api, auth, "grant", brand=brand.address, **EMAIL)
    assert again["message"]["nonce"] == "0"
    second = _submit(api, auth, "grant", again["message"], _signed(customer, again))
    assert second.status_code == 202, second.text
    api.relay()
    assert api.client.get(f"{URL}/{second.json()['id']}", headers=auth).json()["status"] == "confirmed"
    assert api.context.ledger.nonce_of(customer.address, brand.address) == 1
    # The rejected message itself, sent again, gets its row back: it is not relayed a second time.
    repeat = _submit(api, auth, "grant", first["message"], _signed(customer, first))
    assert (repeat.status_code, repeat.json()["id"]) == (200, accepted.json()["id"])


def test_a_wallet_that_writes_state_is_the_one_check_the_api_cannot_mirror(api, chain, relayer: TxSender) -> None:
    """EIP-1271 `isValidSignature` is a view; the contract calls it with STATICCALL, which JSON-RPC
    cannot imitate. Such a wallet passes the API's check and is refused on-chain; the rejection
    frees its nonce (see above), and the relayer paid for one capped call."""
    brand, _ = api.brand()
    wallet = relayer.transact(None, chain.artifacts["StatefulWallet"].bytecode).contract_address
    assert wallet
    consents = api.context.consents  # a contract cannot sign in (SIWE is ECDSA): use the service itself
    typed = consents.grant_typed_data(wallet, brand.address, [("marketing.email", EMAIL["categories"])])
    submission, created = consents.submit(wallet, "grant", typed["message"], "0x" + "01" * 65)
    assert created
    api.relay()
    settled = api.context.outbox.get(submission.id)
    assert (settled.status, settled.reason) == ("rejected", "invalid_signature")
