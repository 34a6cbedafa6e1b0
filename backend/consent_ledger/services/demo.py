"""Demo data for a newcomer: a few brands and customers with synthetic records and grants, all made
through the real paths (vault, signed typed data, outbox, relayer). Devnet only.

Keys are derived from fixed labels, so the same demo accounts come back on every run; they are
public and worthless, and the seeding refuses any chain but the local devnet.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

from consent_ledger.brands.registry import BrandRegistry
from consent_ledger.chain.deploy import Deployment
from consent_ledger.chain.ledger import Ledger
from consent_ledger.config import DEVNET_CHAIN_ID
from consent_ledger.errors import ConfigError
from consent_ledger.relayer.outbox import Outbox
from consent_ledger.relayer.worker import RelayerWorker
from consent_ledger.services.consents import ConsentService
from consent_ledger.vault import Vault

BRANDS = [("acme", "Acme Outdoor"), ("lumen", "Lumen Books"), ("orbit", "Orbit Mobile")]
FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John", "Radia", "Ken"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus", "Perlman", "Thompson"]
CITIES = ["Leeds", "Lyon", "Porto", "Gdansk", "Tartu", "Bologna", "Utrecht", "Cork"]
INTERESTS = ["hiking", "climbing", "novels", "jazz", "cycling", "cooking", "astronomy", "chess"]
# Per purpose, the data it may use: what demo customers grant.
OFFERS: list[list[tuple[str, list[str]]]] = [
    [("marketing.email", ["contact.email", "interests"])],
    [
        ("marketing.email", ["contact.email", "interests"]),
        ("tcf.measure_ad_performance", ["location.coarse", "purchase_history"]),
    ],
    [("marketing.sms", ["contact.phone"])],
]


def demo_account(label: str) -> LocalAccount:
    account: LocalAccount = Account.from_key(keccak(text=f"consent-ledger demo {label}"))
    return account


class SeedTargets(Protocol):
    """What seeding writes through (the composition root's context provides it)."""

    deployment: Deployment
    brands: BrandRegistry
    vault: Vault
    ledger: Ledger
    outbox: Outbox
    consents: ConsentService
    relayer: RelayerWorker


@dataclass(frozen=True)
class SeedReport:
    brands: dict[str, str]  # label -> address
    customers: list[str]
    submissions: int


def seed(
    context: SeedTargets, customers: int = 20, progress: Callable[[str, int, int], None] | None = None
) -> SeedReport:
    if context.deployment.chain_id != DEVNET_CHAIN_ID:
        raise ConfigError("seeding makes demo accounts with public keys: it only runs on the local devnet")
    report = progress or (lambda _step, _done, _total: None)
    brands = {}
    for label, name in BRANDS:
        brands[label] = context.brands.add(demo_account(f"brand {label}").address, name)
    rng = random.Random(7)  # noqa: S311 -- synthetic demo records, not secrets
    made: list[str] = []
    submissions = 0
    for index in range(customers):
        customer = demo_account(f"customer {index}")
        first, last = rng.choice(FIRST), rng.choice(LAST)
        if not context.vault.is_erased(customer.address):
            context.vault.put_fields(
                customer.address,
                {
                    "name": ("identity.name", f"{first} {last}"),
                    "email": ("contact.email", f"{first}.{last}{index}@example.org".lower()),
                    "phone": ("contact.phone", f"+44 7700 9{index:05d}"),
                    "city": ("location.coarse", rng.choice(CITIES)),
                    "interests": ("interests", ", ".join(rng.sample(INTERESTS, 2))),
                    "last_order": ("purchase_history", f"order {1000 + index}: {rng.choice(INTERESTS)} kit"),
                },
            )
        for brand_label, brand in brands.items():
            choice = random.Random(f"{index}/{brand_label}")  # noqa: S311 -- same choice on every run
            if choice.random() < 0.4 or context.outbox.has_pending(customer.address, brand):
                continue
            if context.ledger.grant_of(customer.address, brand).expires_at:
                continue  # granted on an earlier run
            typed = context.consents.grant_typed_data(customer.address, brand, choice.choice(OFFERS), days=90)
            signature = Account.sign_typed_data(customer.key, full_message=typed).signature
            context.consents.submit(customer.address, "grant", typed["message"], "0x" + bytes(signature).hex())
            submissions += 1
        made.append(customer.address)
        report("customers", index + 1, customers)
    context.relayer.drain()
    return SeedReport(brands, made, submissions)
