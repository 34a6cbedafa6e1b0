"""The gatekeeper decides at one pinned block, category by category, and fails closed."""

from __future__ import annotations

import pytest

from consent_ledger.chain.devnet import free_port
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.chain.tx import TxSender
from consent_ledger.errors import ChainUncertainError
from consent_ledger.services.gatekeeper import Gatekeeper, single_bits
from support import DAY, grant_request, new_account, sign_grant

pytestmark = pytest.mark.chain

EMAIL, PHONE, INTERESTS = 1 << 0, 1 << 1, 1 << 5
MARKETING, PROFILING = 1 << 16, 1 << 2


def _grant(chain, ledger: Ledger, relayer: TxSender, brand: str, categories: int, purposes: int, **kw):
    customer = new_account()
    request = grant_request(customer.address, brand, chain.now(), categories=categories, purposes=purposes, **kw)
    ledger.grant_by_sig(relayer, request, sign_grant(ledger, customer, request))
    return customer.address


def test_single_bits() -> None:
    assert single_bits(0b101001) == [1, 8, 32]
    assert single_bits(0) == []


def test_release_decision_is_per_category_at_one_block(chain, ledger: Ledger, relayer: TxSender) -> None:
    brand = new_account().address
    both = _grant(chain, ledger, relayer, brand, EMAIL | INTERESTS, MARKETING)
    email_only = _grant(chain, ledger, relayer, brand, EMAIL, MARKETING)
    wrong_purpose = _grant(chain, ledger, relayer, brand, EMAIL | PHONE | INTERESTS, PROFILING)
    stranger = new_account().address

    gate = Gatekeeper(ledger)
    decision = gate.decide_release(
        brand, [both, email_only, wrong_purpose, stranger], EMAIL | PHONE | INTERESTS, MARKETING
    )
    assert decision.granted == {both: EMAIL | INTERESTS, email_only: EMAIL, wrong_purpose: 0, stranger: 0}
    block = chain.rpc.get_block(decision.pin.number)
    assert (block["hash"], int(block["timestamp"], 16)) == (decision.pin.hash, decision.pin.timestamp)
    assert decision.pin.number == chain.rpc.block_number()


def test_check_answers_like_the_contract(chain, ledger: Ledger, relayer: TxSender) -> None:
    brand = new_account().address
    customer = _grant(chain, ledger, relayer, brand, EMAIL | PHONE, MARKETING)
    rows = [(customer, EMAIL, MARKETING), (customer, EMAIL | INTERESTS, MARKETING), (customer, PHONE, PROFILING)]
    result = Gatekeeper(ledger).check(brand, rows)
    assert result.answers == [ledger.is_allowed(customer, brand, c, p) for c, p in ((r[1], r[2]) for r in rows)]
    assert result.answers == [True, False, False]


def test_expired_grant_releases_nothing(chain, ledger: Ledger, relayer: TxSender) -> None:
    brand = new_account().address
    customer = _grant(chain, ledger, relayer, brand, EMAIL, MARKETING, expires_in=DAY)
    chain.travel(DAY + 1)
    assert Gatekeeper(ledger).decide_release(brand, [customer], EMAIL, MARKETING).granted == {customer: 0}


def test_a_decision_stays_tied_to_its_block(chain, ledger: Ledger, relayer: TxSender) -> None:
    brand = new_account().address
    customer = new_account()
    request = grant_request(customer.address, brand, chain.now(), categories=EMAIL, purposes=MARKETING)
    ledger.grant_by_sig(relayer, request, sign_grant(ledger, customer, request))
    gate = Gatekeeper(ledger)
    before = gate.pin()
    chain.fund(customer.address)
    ledger.revoke(ledger.sender(customer.key), brand)
    assert (
        gate.decide_release_at(before, brand, [customer.address], EMAIL, MARKETING).granted[customer.address] == EMAIL
    )
    assert gate.decide_release(brand, [customer.address], EMAIL, MARKETING).granted[customer.address] == 0


def test_reorged_pin_fails_closed(chain, ledger: Ledger, relayer: TxSender) -> None:
    brand = new_account().address
    snapshot = chain.rpc.request("evm_snapshot")
    customer = _grant(chain, ledger, relayer, brand, EMAIL, MARKETING)
    gate = Gatekeeper(ledger)
    pin = gate.pin()
    assert gate.check_at(pin, brand, [(customer, EMAIL, MARKETING)]).answers == [True]
    # Replace the pinned block with a different history (as a reorg or a node restart would).
    assert chain.rpc.request("evm_revert", [snapshot]) is True
    chain.rpc.request("anvil_setNextBlockTimestamp", [pin.timestamp + 7])
    chain.rpc.request("evm_mine", [])
    assert chain.rpc.get_block(pin.number)["hash"] != pin.hash
    with pytest.raises(ChainUncertainError, match=f"block {pin.number}"):
        gate.check_at(pin, brand, [(customer, EMAIL, MARKETING)])


def test_node_down_fails_closed(chain) -> None:
    dead = Ledger(RpcClient(f"http://127.0.0.1:{free_port()}", timeout=1), chain.deployment.address, [])
    gate = Gatekeeper(dead)
    with pytest.raises(ChainUncertainError):
        gate.pin()
    pin = Gatekeeper(chain.ledger()).pin()
    with pytest.raises(ChainUncertainError):
        gate.decide_release_at(pin, new_account().address, [new_account().address], EMAIL, MARKETING)


def test_confirmations_decide_behind_the_head(chain, ledger: Ledger, relayer: TxSender) -> None:
    for _ in range(3):  # history after the deployment, so head - 2 has the contract
        chain.rpc.request("evm_mine", [])
    brand = new_account().address
    customer = _grant(chain, ledger, relayer, brand, EMAIL, MARKETING)
    granted_at = chain.rpc.block_number()
    cautious = Gatekeeper(ledger, confirmations=2)
    assert cautious.pin().number == granted_at - 2
    assert cautious.decide_release(brand, [customer], EMAIL, MARKETING).granted[customer] == 0  # not final yet
    chain.rpc.request("evm_mine", [])
    chain.rpc.request("evm_mine", [])
    decision = cautious.decide_release(brand, [customer], EMAIL, MARKETING)
    assert decision.pin.number == granted_at
    assert decision.granted[customer] == EMAIL


def test_a_block_before_the_deployment_fails_closed(chain, ledger: Ledger) -> None:
    far_behind = Gatekeeper(ledger, confirmations=10_000)  # pins block 0, where the contract has no code
    assert far_behind.pin().number == 0
    with pytest.raises(ChainUncertainError, match="no reliable answer at block 0"):
        far_behind.decide_release(new_account().address, [new_account().address], EMAIL, MARKETING)
