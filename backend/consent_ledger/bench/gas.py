"""Gas report: gasUsed from real receipts for every write path, on a throwaway anvil.

Each figure comes from one transaction (batch figures divide by the batch size). Customers are
fresh keys, so "new" means a zero storage slot and "update" a second grant for the same pair. A
grant names one purpose with a few categories (the common case) unless its key says
`_3_purposes`: three purposes, each with its own categories.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from eth_account import Account
from eth_account.signers.local import LocalAccount

from consent_ledger.bench.chain import throwaway_chain
from consent_ledger.chain import eip712
from consent_ledger.chain.ledger import Ledger
from consent_ledger.config import ANVIL_DEFAULT_KEY, Settings
from consent_ledger.domain import GrantRequest, PurposeTerms, RevokeRequest, Terms

TARGETS = {"grant_signed_new": 56_000, "grant_batch50_per_grant": 36_000, "revoke_signed": 36_000}
CATEGORIES = 0b1011  # a few categories, as a real grant would carry
ONE_PURPOSE = (PurposeTerms(2, CATEGORIES),)
THREE_PURPOSES = (PurposeTerms(0, 0b1), PurposeTerms(2, CATEGORIES), PurposeTerms(7, 0b110000))
NOTICE = bytes.fromhex("9f" * 32)
DAY = 86_400


class SignedGrants:
    """Signed grants and revocations from fresh customers to one brand, relayed by `relayer_key`."""

    def __init__(self, ledger: Ledger, relayer_key: str) -> None:
        self.ledger = ledger
        self.relayer = ledger.sender(relayer_key)
        self.domain = ledger.domain()
        self.brand = Account.create().address
        self.now = int(time.time())

    def signed_grant(
        self, customer: LocalAccount, nonce: int = 0, terms: Terms = ONE_PURPOSE
    ) -> tuple[GrantRequest, bytes]:
        request = GrantRequest(
            customer.address,
            self.brand,
            terms,
            self.now + 180 * DAY,
            NOTICE,
            nonce,
            self.now + DAY,
        )
        return request, eip712.sign_digest(customer.key, eip712.grant_digest(self.domain, request))

    def signed_revoke(self, customer: LocalAccount, nonce: int) -> tuple[RevokeRequest, bytes]:
        request = RevokeRequest(customer.address, self.brand, nonce, self.now + DAY)
        return request, eip712.sign_digest(customer.key, eip712.revoke_digest(self.domain, request))

    def funded(self) -> LocalAccount:
        account: LocalAccount = Account.create()
        self.ledger.rpc.request("anvil_setBalance", [account.address, hex(10**18)])
        return account


def measure(ledger: Ledger, relayer_key: str, progress: Callable[[str], None] = lambda _: None) -> dict[str, int]:
    run = SignedGrants(ledger, relayer_key)
    report: dict[str, int] = {}

    progress("direct grant and revoke")
    customer = run.funded()
    own = ledger.sender(customer.key)
    report["grant_direct"] = ledger.grant(own, run.brand, ONE_PURPOSE, run.now + DAY, NOTICE).receipt.gas_used
    report["revoke_direct"] = ledger.revoke(own, run.brand).receipt.gas_used

    progress("signed grant, update, revoke")
    customer = Account.create()
    report["grant_signed_new"] = ledger.grant_by_sig(run.relayer, *run.signed_grant(customer)).receipt.gas_used
    report["grant_signed_update"] = ledger.grant_by_sig(run.relayer, *run.signed_grant(customer, 1)).receipt.gas_used
    report["revoke_signed"] = ledger.revoke_by_sig(run.relayer, *run.signed_revoke(customer, 2)).receipt.gas_used
    customer = Account.create()
    signed = run.signed_grant(customer, terms=THREE_PURPOSES)
    report["grant_signed_new_3_purposes"] = ledger.grant_by_sig(run.relayer, *signed).receipt.gas_used

    for size in (10, 50):
        progress(f"batch of {size} signed grants from {size} customers")
        customers = [Account.create() for _ in range(size)]
        result = ledger.grant_batch(run.relayer, [run.signed_grant(c) for c in customers])
        report[f"grant_batch{size}_per_grant"] = result.receipt.gas_used // size
        if size == 50:
            revokes = [run.signed_revoke(c, 1) for c in customers]
            report["revoke_batch50_per_revoke"] = ledger.revoke_batch(run.relayer, revokes).receipt.gas_used // size

    progress("batch of 50 signed three-purpose grants from 50 customers")
    customers = [Account.create() for _ in range(50)]
    result = ledger.grant_batch(run.relayer, [run.signed_grant(c, terms=THREE_PURPOSES) for c in customers])
    report["grant_batch50_per_grant_3_purposes"] = result.receipt.gas_used // 50

    progress("anchors")
    report["anchor"] = ledger.anchor(run.relayer, bytes.fromhex("ab" * 32), 100).receipt.gas_used
    report["anchor_next"] = ledger.anchor(run.relayer, bytes.fromhex("cd" * 32), 200).receipt.gas_used
    return report


def gas_report(settings: Settings, progress: Callable[[str], None] = lambda _: None) -> dict[str, object]:
    """Start a throwaway anvil, deploy, measure every path, stop it."""
    progress("starting a throwaway anvil")
    with throwaway_chain(settings, "consent-gas-") as chain:
        report = measure(chain.ledger, ANVIL_DEFAULT_KEY, progress)
        artifact = chain.artifact
    return {
        **report,
        "targets": TARGETS,
        "meets_targets": all(report[name] <= limit for name, limit in TARGETS.items()),
        "compiler": artifact.compiler,
        "hardfork": "cancun",
    }
