"""Insight benchmark: one DP histogram query, on-chain check included, over N consenting customers; and
the stewardship report command over a seeded demo history.

On a throwaway anvil and a throwaway SQLite database: N customers each store an age range and interests
in the vault and grant a brand those two categories for `tcf.audience_statistics` (signed grants relayed
in batches through `grantBatchBySig`, see bench/grants.py; the vault written with `Vault.put_many`, one
transaction per batch). One customer in 50 more stores the same data without consenting to it: half
granted nothing, half granted only the age range. Then the real `InsightService.query` runs as the API
calls it: pin a block, read each holder's counting record (one row: `Vault.counting.sealed_counts`) and ask the
batch view about them chunk by chunk, open only the consenting ones' two segments, count, add OpenDP
noise, charge the budget and append the leaf in one transaction. Each size is timed three times at
epsilon 1 (the figure is the median, in milliseconds); then one query at epsilon 1,000 (noise of scale
0.004: exact except with negligible probability) must return exactly the consenting customers and the
bins the seeded profiles make, or the benchmark fails.

`report_s` (bench/stewardship_report.py): `consent-ledger stewardship report` over the history
`make run` seeds, on its own throwaway chain.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from consent_ledger.audit.log import AccessLog
from consent_ledger.bench.chain import throwaway_chain
from consent_ledger.bench.grants import MAX_BATCH, Customer, GrantSigner, landed, send_grant_batch
from consent_ledger.bench.stewardship_report import report_figures
from consent_ledger.catalog import default_catalog
from consent_ledger.config import ANVIL_DEFAULT_KEY, Settings
from consent_ledger.db.engine import make_engine, make_session_factory
from consent_ledger.db.migrate import upgrade
from consent_ledger.domain import GrantRequest, PurposeTerms
from consent_ledger.errors import ChainError
from consent_ledger.services.gatekeeper import Gatekeeper
from consent_ledger.services.insights import HistogramSpec, InsightPolicy, InsightResult, InsightService
from consent_ledger.vault import MasterKey, Vault

Progress = Callable[[str], None]
PURPOSE = "tcf.audience_statistics"
AGES = ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]
INTERESTS = ["hiking", "climbing", "cooking", "cycling", "reading", "music", "travel", "gardening"]
CONTRIBUTIONS = 2  # interests: each customer counts in at most two bins
NOT_CONSENTING_EVERY = 50  # one customer in 50 more holds the data without a grant covering it
MIN_GROUP = 10
RUNS = 3
EPSILON = 1.0
EXACT_EPSILON = 1_000.0
DAY = 86_400
NOTICE = bytes.fromhex("9f" * 32)


def _label(size: int) -> str:
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


class _Seeder:
    """Consenting and non-consenting customers, on the chain and in the vault, with the true histograms."""

    def __init__(self, ledger: Any, vault: Vault, brand: str, terms: PurposeTerms, partial: PurposeTerms) -> None:
        self.ledger = ledger
        self.sender = ledger.sender(ANVIL_DEFAULT_KEY)
        self.signer = GrantSigner(ledger)
        self.vault = vault
        self.brand = brand
        self.terms, self.partial = terms, partial
        self.rng = random.Random(7)  # noqa: S311 -- synthetic profiles, not cryptography
        self.now = int(time.time())
        self.consenting = 0
        self.others = 0
        self.grants_sent = 0
        self.hashes: list[str] = []
        self.ages: Counter[str] = Counter()
        self.interests: Counter[str] = Counter()

    def _request(self, customer: Customer, terms: PurposeTerms) -> tuple[GrantRequest, bytes]:
        request = GrantRequest(customer.address, self.brand, (terms,), self.now + 180 * DAY, NOTICE, 0, self.now + DAY)
        return request, self.signer.sign(customer, request)

    def _profile(self, counted: bool) -> dict[str, tuple[str, str]]:
        age = self.rng.choice(AGES)
        picks = self.rng.sample(INTERESTS, self.rng.randint(1, 3))
        if counted:
            self.ages[age] += 1
            for index in sorted(INTERESTS.index(p) for p in picks)[:CONTRIBUTIONS]:
                self.interests[INTERESTS[index]] += 1
        return {"age": ("demographic.age_range", age), "interests": ("interests", ", ".join(picks))}

    def grow(self, size: int, progress: Progress) -> None:
        """Up to `size` consenting customers (and their non-consenting fiftieth)."""
        while self.consenting < size:
            batch: list[tuple[GrantRequest, bytes]] = []
            records: dict[str, dict[str, tuple[str, str]]] = {}
            while len(batch) < MAX_BATCH - 1 and self.consenting < size:  # room for a non-consenting one
                customer = Customer.fresh()
                self.consenting += 1
                batch.append(self._request(customer, self.terms))
                records[customer.address] = self._profile(counted=True)
                if self.consenting % NOT_CONSENTING_EVERY == 0:
                    other = Customer.fresh()
                    self.others += 1
                    if self.others % 2 == 0:  # granted only the age range: does not cover the question
                        batch.append(self._request(other, self.partial))
                    records[other.address] = self._profile(counted=False)
            self.hashes.append(send_grant_batch(self.ledger, self.sender, batch))  # mined while the vault writes
            self.grants_sent += len(batch)
            self.vault.put_many(records)
            progress(f"seeded {self.consenting:,}/{size:,} consenting customers")
        got = landed(self.ledger, self.sender, self.hashes)
        if got != self.grants_sent:
            raise ChainError(f"only {got} of {self.grants_sent} grants landed")

    def exact(self, result: InsightResult) -> bool:
        """The query at EXACT_EPSILON counted exactly the consenting customers and their seeded bins."""

        def shown(count: int) -> int | None:
            return count if count >= MIN_GROUP else None

        (_, ages), (_, interests) = result.histograms
        return (
            result.total == shown(self.consenting)
            and [c.count for c in ages] == [shown(self.ages[a]) for a in AGES]
            and [c.count for c in interests] == [shown(self.interests[i]) for i in INTERESTS]
        )


def insights_report(
    settings: Settings,
    sizes: Sequence[int],
    progress: Progress = lambda _: None,
    history_days: int = 42,
    history_customers: int = 20,
) -> dict[str, Any]:
    catalog = default_catalog()
    bit = catalog.purpose(PURPOSE).bit
    terms = PurposeTerms(bit, catalog.category_mask(["demographic.age_range", "interests"]))
    partial = PurposeTerms(bit, catalog.category_mask(["demographic.age_range"]))
    histograms = [
        HistogramSpec("demographic.age_range", AGES),
        HistogramSpec("interests", INTERESTS, contributions=CONTRIBUTIONS),
    ]
    figures: dict[str, Any] = {}
    with throwaway_chain(settings, "consent-insights-") as chain:
        url = f"sqlite:///{chain.root / 'insights.db'}"
        upgrade(url)
        engine = make_engine(url)
        try:
            sessions = make_session_factory(engine)
            vault = Vault(sessions, MasterKey.generate(), catalog)
            service = InsightService(
                Gatekeeper(chain.ledger),
                vault,
                sessions,
                catalog,
                AccessLog(sessions),
                InsightPolicy(
                    epsilon_per_query=EXACT_EPSILON,
                    epsilon_per_period=1e9,
                    period_seconds=86_400,
                    min_group_size=MIN_GROUP,
                ),
            )
            seeder = _Seeder(chain.ledger, vault, Customer.fresh().address, terms, partial)
            for size in sorted(set(sizes)):
                label = _label(size)
                began = time.perf_counter()
                seeder.grow(size, progress)
                figures[f"seed_s_{label}"] = round(time.perf_counter() - began, 1)
                timings = []
                for _ in range(RUNS):
                    start = time.perf_counter()
                    service.query(seeder.brand, PURPOSE, histograms, EPSILON)
                    timings.append((time.perf_counter() - start) * 1000)
                figures[f"query_ms_{label}"] = round(statistics.median(timings))
                figures[f"query_ms_{label}_runs"] = [round(t) for t in timings]
                exact = service.query(seeder.brand, PURPOSE, histograms, EXACT_EPSILON)
                if not seeder.exact(exact):
                    raise AssertionError(f"the exact query counted {exact.total} of {size} consenting customers")
                figures[f"counted_{label}"] = exact.total
                figures[f"not_consenting_{label}"] = seeder.others
                progress(f"{size:,} customers: {figures[f'query_ms_{label}']} ms per query")
        finally:
            engine.dispose()
    figures["seed_s"] = round(sum(v for k, v in figures.items() if k.startswith("seed_s_")), 1)
    if history_days > 0:
        figures.update(report_figures(settings, history_days, history_customers, progress))
    return {
        "database": "sqlite",
        "histograms": "age range (6 bins) and interests (8 bins, 2 per customer), epsilon 1",
        "target_ms_100k": 1_000,
        **figures,
    }
