"""Insight benchmark: one DP histogram query, on-chain check included, over N consenting customers.

On a throwaway anvil and a throwaway SQLite database: N customers each store an age range and
interests in the vault and grant a brand those two categories for `tcf.audience_statistics`
(signed grants relayed in batches of `GRANT_BATCH` through `grantBatchBySig`). Then the real
`InsightService.query` runs as the API calls it: pin a block, ask the batch view `areAllowed`
(hand-encoded) about every holder, decrypt only the consenting ones' two fields, count, add OpenDP
noise, charge the budget and append the leaf in one transaction. Each size is measured three times;
the figure is the median, in milliseconds.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from eth_account import Account

from consent_ledger.audit.log import AccessLog
from consent_ledger.bench.chain import throwaway_chain
from consent_ledger.bench.gas import SignedGrants
from consent_ledger.catalog import default_catalog
from consent_ledger.config import ANVIL_DEFAULT_KEY, Settings
from consent_ledger.db.engine import make_engine, make_session_factory
from consent_ledger.db.migrate import upgrade
from consent_ledger.domain import PurposeTerms
from consent_ledger.services.gatekeeper import Gatekeeper
from consent_ledger.services.insights import HistogramSpec, InsightPolicy, InsightService
from consent_ledger.vault import MasterKey, Vault

Progress = Callable[[str], None]
PURPOSE = "tcf.audience_statistics"
AGES = ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]
INTERESTS = ["hiking", "climbing", "cooking", "cycling", "reading", "music", "travel", "gardening"]
GRANT_BATCH = 400
GRANT_GAS = 24_000_000  # explicit: estimating each batch would execute it twice
RUNS = 3


def _label(size: int) -> str:
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def insights_report(settings: Settings, sizes: Sequence[int], progress: Progress = lambda _: None) -> dict[str, Any]:
    catalog = default_catalog()
    terms = (PurposeTerms(catalog.purpose(PURPOSE).bit, catalog.category_mask(["demographic.age_range", "interests"])),)
    histograms = [
        HistogramSpec("demographic.age_range", AGES),
        HistogramSpec("interests", INTERESTS, contributions=2),
    ]
    rng = random.Random(7)  # noqa: S311 -- synthetic profiles, not cryptography
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
                InsightPolicy(epsilon_per_query=1.0, epsilon_per_period=1e6, period_seconds=86_400, min_group_size=10),
            )
            run = SignedGrants(chain.ledger, ANVIL_DEFAULT_KEY)
            seeded = 0
            for size in sorted(set(sizes)):
                began = time.perf_counter()
                while seeded < size:
                    batch = [Account.create() for _ in range(min(GRANT_BATCH, size - seeded))]
                    chain.ledger.grant_batch(
                        run.relayer, [run.signed_grant(a, terms=terms) for a in batch], gas=GRANT_GAS
                    )
                    for account in batch:
                        picks = rng.sample(INTERESTS, rng.randint(1, 3))
                        vault.put_fields(
                            account.address,
                            {
                                "age": ("demographic.age_range", rng.choice(AGES)),
                                "interests": ("interests", ", ".join(picks)),
                            },
                        )
                    seeded += len(batch)
                    progress(f"seeded {seeded:,}/{size:,} consenting customers")
                figures[f"seed_s_{_label(size)}"] = round(time.perf_counter() - began, 1)
                timings = []
                for _ in range(RUNS):
                    start = time.perf_counter()
                    result = service.query(run.brand, PURPOSE, histograms, 1.0)
                    timings.append((time.perf_counter() - start) * 1000)
                if result.total is None or abs(result.total - size) > 100:
                    raise AssertionError(f"the query counted {result.total} of {size} consenting customers")
                figures[f"query_ms_{_label(size)}"] = round(statistics.median(timings))
                figures[f"query_ms_{_label(size)}_runs"] = [round(t) for t in timings]
                progress(f"{size:,} customers: {figures[f'query_ms_{_label(size)}']} ms per query")
        finally:
            engine.dispose()
    return {
        "database": "sqlite",
        "histograms": "age range (6 bins) and interests (8 bins, 2 per customer), epsilon 1",
        "target_ms_100k": 1_000,
        **figures,
    }
