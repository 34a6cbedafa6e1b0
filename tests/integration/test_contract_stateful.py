"""The contract against a small Python model of its rules, on random sequences of grants, batches,
revocations and time travel (hypothesis stateful testing on a real anvil).

After every step `isAllowed`, `areAllowed` and the off-chain check (`GrantState.allows` over what
`grantOf` returns) must all give the model's answer to every question, and every refusal must be
the one the model predicts. Each example starts from an `evm_snapshot` and is rolled back after.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from consent_ledger.chain.events import Granted, Rejected, Rejection, Revoked
from consent_ledger.chain.ledger import Ledger
from consent_ledger.domain import GrantRequest, PurposeTerms, Query, RevokeRequest, Terms, terms_from_wire, wire_terms
from consent_ledger.errors import ContractRevertError
from support import DAY, NOTICE, new_account, sign_grant, sign_revoke

pytestmark = pytest.mark.chain

MAX_DURATION = 730 * DAY
ERRORS = {
    Rejection.SIGNATURE_EXPIRED: "ConsentLedgerSignatureExpired",
    Rejection.INVALID_NONCE: "ConsentLedgerInvalidNonce",
    Rejection.INVALID_SIGNATURE: "ConsentLedgerInvalidSignature",
    Rejection.NO_CATEGORIES: "ConsentLedgerNoCategories",
    Rejection.NO_PURPOSES: "ConsentLedgerNoPurposes",
    Rejection.EXPIRY_IN_PAST: "ConsentLedgerExpiryInPast",
    Rejection.EXPIRY_TOO_FAR: "ConsentLedgerExpiryTooFar",
    Rejection.TERMS_MISMATCH: "ConsentLedgerTermsMismatch",
}
# Questions asked of every pair after every step: purposes masks (0 included: never allowed) by
# category masks.
QUESTIONS = [(c, p) for p in (0, 1, 2, 4, 8, 3, 5, 6, 15) for c in (0, 1, 2, 5, 15)]


@dataclass
class Model:
    """What the contract should hold for one (customer, brand) pair."""

    terms: Terms = ()
    expires_at: int = 0
    nonce: int = 0

    def allows(self, categories: int, purposes: int, now: int) -> bool:
        if purposes == 0 or now >= self.expires_at:
            return False
        granted = {t.purpose: t.categories for t in self.terms}
        return all(p in granted and granted[p] & categories == categories for p in range(64) if purposes >> p & 1)


def judge_grant(model: Model, request: GrantRequest, signed_by_customer: bool, now: int) -> Rejection:
    """The contract's checks, in the contract's order."""
    if request.deadline < now:
        return Rejection.SIGNATURE_EXPIRED
    purposes, categories = wire_terms(request.terms)  # what the contract receives
    if purposes == 0:
        return Rejection.NO_PURPOSES
    rest = purposes
    for mask in categories:
        if rest == 0:
            return Rejection.TERMS_MISMATCH
        if mask == 0:
            return Rejection.NO_CATEGORIES
        rest &= rest - 1
    if rest:
        return Rejection.TERMS_MISMATCH
    if request.expires_at <= now:
        return Rejection.EXPIRY_IN_PAST
    if request.expires_at > now + MAX_DURATION:
        return Rejection.EXPIRY_TOO_FAR
    if request.nonce != model.nonce:
        return Rejection.INVALID_NONCE
    if not signed_by_customer:
        return Rejection.INVALID_SIGNATURE
    return Rejection.NONE


def _as_stored(terms: Terms) -> Terms:
    """Terms as the contract holds them: ascending purposes (the wire form is a mask and a list)."""
    return terms_from_wire(*wire_terms(terms))


# Any order, repeats (the wire form then has more masks than purposes), empty masks.
terms_strategy = st.lists(
    st.tuples(st.sampled_from([0, 1, 2, 3, 3, 63]), st.sampled_from([0, 1, 2, 3, 5, 7, 15])),
    max_size=4,
).map(lambda pairs: tuple(PurposeTerms(p, c) for p, c in pairs))
sorted_terms = st.dictionaries(st.integers(0, 3), st.integers(1, 15), min_size=1, max_size=4).map(
    lambda d: tuple(PurposeTerms(p, d[p]) for p in sorted(d))
)
expiry_offsets = st.sampled_from([-10, 0, 1, 50, 3_600, 30 * DAY, MAX_DURATION, MAX_DURATION + 1])


def test_contract_agrees_with_the_model(chain) -> None:
    customers: list[LocalAccount] = [new_account(), new_account()]
    brands = [new_account().address, new_account().address]
    rpc = chain.rpc

    class LedgerMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snapshot = rpc.request("evm_snapshot")
            self.ledger: Ledger = chain.ledger()
            self.relayer = self.ledger.sender("0x" + "5c" * 32)
            chain.fund(self.relayer.address)
            self.models = {(c.address, b): Model() for c in customers for b in brands}
            self.asked = 0

        def teardown(self) -> None:
            assert rpc.request("evm_revert", [self.snapshot]) is True

        def _next_time(self) -> int:
            """Pin the next block's time, so the model judges with the contract's clock."""
            when = chain.now() + 1
            rpc.request("evm_setNextBlockTimestamp", [when])
            return when

        def _request(self, data_customer: int, brand: int, terms: Terms, offset: int, nonce_shift: int, now: int):
            customer = customers[data_customer]
            model = self.models[customer.address, brands[brand]]
            request = GrantRequest(
                customer.address, brands[brand], terms, now + offset, NOTICE, model.nonce + nonce_shift, now + 600
            )
            return customer, model, request

        def _apply(self, model: Model, request: GrantRequest) -> None:
            model.terms, model.expires_at, model.nonce = _as_stored(request.terms), request.expires_at, model.nonce + 1

        @rule(
            customer=st.integers(0, 1),
            brand=st.integers(0, 1),
            terms=st.one_of(sorted_terms, terms_strategy),
            offset=expiry_offsets,
            nonce_shift=st.sampled_from([0, 0, 0, 1]),
            impostor=st.sampled_from([False, False, False, True]),
        )
        def grant_by_signature(self, customer, brand, terms, offset, nonce_shift, impostor) -> None:
            now = self._next_time()
            account, model, request = self._request(customer, brand, terms, offset, nonce_shift, now)
            signer = customers[1 - customer] if impostor else account
            expected = judge_grant(model, request, not impostor, now)
            signature = sign_grant(self.ledger, signer, request)
            if expected is Rejection.NONE:
                (event,) = self.ledger.grant_by_sig(self.relayer, request, signature).events
                assert isinstance(event, Granted)
                assert event.terms == _as_stored(request.terms)
                self._apply(model, request)
            else:
                with pytest.raises(ContractRevertError) as caught:
                    self.ledger.grant_by_sig(self.relayer, request, signature)
                assert caught.value.name == ERRORS[expected]
                rpc.request("evm_mine", [])  # the pinned time is used up either way

        @rule(
            items=st.lists(
                st.tuples(
                    st.integers(0, 1), st.integers(0, 1), st.one_of(sorted_terms, terms_strategy), expiry_offsets
                ),
                min_size=1,
                max_size=3,
            )
        )
        def batch_of_grants(self, items) -> None:
            now = self._next_time()
            signed, expected = [], []
            for customer, brand, terms, offset in items:
                account, model, request = self._request(customer, brand, terms, offset, 0, now)
                verdict = judge_grant(model, request, True, now)
                expected.append(verdict)
                if verdict is Rejection.NONE:
                    self._apply(model, request)
                signed.append((request, sign_grant(self.ledger, account, request)))
            events = self.ledger.grant_batch(self.relayer, signed, gas=3_000_000).events
            got = [Rejection.NONE if isinstance(e, Granted) else e.reason for e in events if not isinstance(e, Revoked)]
            assert got == expected
            assert all(isinstance(e, Granted | Rejected) for e in events)

        @rule(customer=st.integers(0, 1), brand=st.integers(0, 1), late=st.sampled_from([False, False, True]))
        def revoke_by_signature(self, customer, brand, late) -> None:
            now = self._next_time()
            account = customers[customer]
            model = self.models[account.address, brands[brand]]
            request = RevokeRequest(account.address, brands[brand], model.nonce, now - 1 if late else now + 600)
            signature = sign_revoke(self.ledger, account, request)
            if late:
                with pytest.raises(ContractRevertError) as caught:
                    self.ledger.revoke_by_sig(self.relayer, request, signature)
                assert caught.value.name == "ConsentLedgerSignatureExpired"
                rpc.request("evm_mine", [])
                return
            (event,) = self.ledger.revoke_by_sig(self.relayer, request, signature).events
            assert isinstance(event, Revoked)
            model.terms, model.expires_at, model.nonce = (), 0, model.nonce + 1

        @rule(seconds=st.sampled_from([1, 49, 3_600, 30 * DAY, 400 * DAY]))
        def time_passes(self, seconds) -> None:
            chain.travel(seconds)

        @invariant()
        def every_view_gives_the_models_answer(self) -> None:
            block = rpc.get_block("latest")
            number, now = int(block["number"], 16), int(block["timestamp"], 16)
            queries = [Query(c, b, cats, purposes) for (c, b) in self.models for cats, purposes in QUESTIONS]
            expected = [self.models[q.customer, q.brand].allows(q.categories, q.purposes, now) for q in queries]
            assert self.ledger.are_allowed(queries, number) == expected
            states = {pair: self.ledger.grant_of(*pair, number) for pair in self.models}
            assert [states[q.customer, q.brand].allows(q.categories, q.purposes, now) for q in queries] == expected
            for pair, state in states.items():
                model = self.models[pair]
                assert state.nonce == model.nonce
                if model.expires_at:
                    assert (state.terms, state.expires_at) == (model.terms, model.expires_at)
            # isAllowed one by one for a rotating slice (the batch view has answered them all)
            for i in range(self.asked, self.asked + 6):
                q = queries[i % len(queries)]
                assert (
                    self.ledger.is_allowed(q.customer, q.brand, q.categories, q.purposes, number)
                    is expected[i % len(queries)]
                )
            self.asked += 6

    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
