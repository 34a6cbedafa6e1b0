"""Weeks of demo history, so the demo brands' public stewardship pages have something to show: grants given,
narrowed and revoked, records released and aggregate questions asked, day after day, all through the real
paths (signed typed data, outbox, relayer, gatekeeper, vault, access log, anchors).

It needs a devnet whose clock is behind the wall clock (`consent-ledger devnet start --history-days N` starts a
fresh one N days in the past): each simulated day moves the chain's clock forward with anvil's
`evm_setNextBlockTimestamp`, never past the wall clock, and the releases and questions of that day are dated
by that clock. A devnet already at the wall clock (seeded before) gets no history: seeding stays idempotent.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.audit.anchoring import Anchorer
from consent_ledger.audit.log import AccessLog
from consent_ledger.catalog import Catalog
from consent_ledger.chain.events import REVOKED, Revoked, decode_logs
from consent_ledger.chain.ledger import Ledger
from consent_ledger.config import DEVNET_CHAIN_ID
from consent_ledger.errors import ClientError, ConfigError
from consent_ledger.propagation.steps import PropagationStep, record_step
from consent_ledger.relayer.worker import RelayerWorker
from consent_ledger.services.consents import ConsentService
from consent_ledger.services.gatekeeper import Gatekeeper
from consent_ledger.services.insights import HistogramSpec, InsightService
from consent_ledger.services.releases import ReleaseService
from consent_ledger.vault import Vault

DAY = 86_400
GRANT_DAYS = 120
INTERESTS = ["hiking", "climbing", "novels", "jazz", "cycling", "cooking", "astronomy", "chess"]
# What each demo brand asks for when it releases records, and the aggregate question it asks.
RELEASES = {
    "acme": ("marketing.email", ["contact.email", "interests"]),
    "lumen": ("marketing.email", ["contact.email"]),
    "orbit": ("marketing.sms", ["contact.phone"]),
}
OFFERS: list[list[tuple[str, list[str]]]] = [
    [("marketing.email", ["contact.email", "interests"])],
    [("marketing.email", ["contact.email", "interests"]), ("tcf.measure_ad_performance", ["location.coarse"])],
    [("marketing.sms", ["contact.phone"]), ("marketing.email", ["contact.email"])],
]


class HistoryTargets(Protocol):
    """What the history writes through (the composition root's context provides it)."""

    sessions: sessionmaker[Session]
    catalog: Catalog
    ledger: Ledger
    vault: Vault
    consents: ConsentService
    relayer: RelayerWorker
    gatekeeper: Gatekeeper
    access_log: AccessLog
    anchorer: Anchorer
    insights: InsightService
    releases: ReleaseService


@dataclass(frozen=True)
class HistoryReport:
    days: int
    grants: int = 0
    narrowed: int = 0
    revoked: int = 0
    releases: int = 0
    questions: int = 0


class _Clock:
    """The devnet's clock, moved forward day by day; the releases and questions of a day read it."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.now = int(ledger.rpc.get_block("latest")["timestamp"], 16)

    def move_to(self, timestamp: int) -> None:
        if timestamp > self.now:
            self.ledger.rpc.request("evm_setNextBlockTimestamp", [timestamp])
            self.now = timestamp

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


@dataclass
class _Tally:
    grants: int = 0
    narrowed: int = 0
    revoked: int = 0
    releases: int = 0
    questions: int = 0


def days_available(ledger: Ledger, wall: float | None = None) -> int:
    """Whole days the devnet's clock is behind the wall clock: how much history fits."""
    chain = int(ledger.rpc.get_block("latest")["timestamp"], 16)
    return max(0, int((wall if wall is not None else time.time()) - chain) // DAY)


class _History:
    def __init__(self, context: HistoryTargets, customers: list[LocalAccount], brands: dict[str, str]) -> None:
        self.context = context
        self.customers = customers
        self.brands = brands
        self.clock = _Clock(context.ledger)
        self.tally = _Tally()
        self.seen_block = context.ledger.rpc.block_number()
        # The services of a running server, on the devnet's clock instead of the wall clock.
        self.releases = ReleaseService(
            context.gatekeeper,
            context.vault,
            context.sessions,
            context.catalog,
            context.access_log,
            clock=self.clock.datetime,
        )
        self.insights = InsightService(
            context.gatekeeper,
            context.vault,
            context.sessions,
            context.catalog,
            context.access_log,
            context.insights.policy,
            clock=self.clock.datetime,
        )

    def _sign(self, customer: LocalAccount, kind: str, typed: dict[str, object]) -> None:
        signature = Account.sign_typed_data(customer.key, full_message=typed).signature
        self.context.consents.submit(customer.address, kind, typed["message"], "0x" + bytes(signature).hex())

    def _grant(self, customer: LocalAccount, brand: str, offer: list[tuple[str, list[str]]]) -> None:
        expires = max(self.clock.now, int(time.time())) + GRANT_DAYS * DAY
        typed = self.context.consents.grant_typed_data(customer.address, brand, offer, expires_at=expires)
        self._sign(customer, "grant", typed)

    def _day_of_consents(self, rng: random.Random) -> None:
        for customer in self.customers:
            for brand in self.brands.values():
                state = self.context.ledger.grant_of(customer.address, brand)
                active = state.active_at(self.clock.now)
                roll = rng.random()
                if not active and roll < 0.07:
                    self._grant(customer, brand, rng.choice(OFFERS))
                    self.tally.grants += 1
                elif active and roll < 0.025:
                    self._sign(customer, "revoke", self.context.consents.revoke_typed_data(customer.address, brand))
                    self.tally.revoked += 1
                elif active and roll < 0.05 and len(state.terms) > 1:
                    kept = self.context.catalog.terms_names(state.terms[:1])
                    offer = [(t["purpose"], list(t["categories"])[:1]) for t in kept]
                    self._grant(customer, brand, offer)
                    self.tally.narrowed += 1
        self.context.relayer.drain()
        self._tell_brands(rng)

    def _tell_brands(self, rng: random.Random) -> None:
        """The brands hear of the day's revocations (a signed webhook) and most say they stopped, some late:
        the propagation steps a webhook delivery and an acknowledgement record (version-3 leaves)."""
        rpc = self.context.ledger.rpc
        head = rpc.block_number()
        if head <= self.seen_block:
            return
        query = {"address": self.context.ledger.address, "fromBlock": hex(self.seen_block + 1), "toBlock": hex(head)}
        logs = rpc.request("eth_getLogs", [{**query, "topics": [REVOKED]}])
        self.seen_block = head
        chain_id = rpc.chain_id()
        for event in decode_logs(logs, self.context.ledger.address):
            if not isinstance(event, Revoked):
                continue
            cause = f"chain:{chain_id}:{event.at.tx_hash}:{event.at.log_index}:{event.brand}"
            event_id = hashlib.sha256(cause.encode()).digest()
            occurred = int(rpc.get_block(event.at.block_number)["timestamp"], 16)
            when = datetime.fromtimestamp(occurred, UTC)
            told = datetime.fromtimestamp(occurred + rng.randint(2, 90), UTC)
            steps = [PropagationStep.delivered("consent.revoked", event_id, event.customer, event.brand, when, told)]
            if rng.random() < 0.85:
                stopped = datetime.fromtimestamp(occurred + rng.choice([60, 300, 900, 3_600, 14_400]), UTC)
                steps.append(
                    PropagationStep.acknowledged(
                        "consent.revoked", event_id, event.customer, event.brand, when, stopped, "stopped_processing"
                    )
                )
            with self.context.sessions() as session:
                for step in steps:
                    record_step(session, step)
                session.commit()

    def _day_of_use(self, label: str, brand: str, rng: random.Random, day: int) -> None:
        purpose, categories = RELEASES[label]
        if rng.random() < 0.75:
            asked = rng.sample(self.customers, rng.randint(2, 6))
            try:
                result = self.releases.release(brand, [c.address for c in asked], categories, purpose, limit=100)
            except ClientError:
                return
            self.tally.releases += len(result.released)
        if label != "orbit" and day % 3 == 0:
            question = [HistogramSpec("interests", INTERESTS, 2)]
            try:
                self.insights.query(brand, "marketing.email", question, epsilon=0.5)
            except ClientError:  # the day's budget is spent
                return
            self.tally.questions += 1

    def run(self, days: int, progress: Callable[[str, int, int], None]) -> HistoryReport:
        start = self.clock.now
        for day in range(1, days + 1):
            rng = random.Random(f"history {day}")  # noqa: S311 -- the same demo history on every fresh devnet
            self.clock.move_to(start + day * DAY - rng.randint(DAY // 4, DAY // 2))
            self._day_of_consents(rng)
            for label, brand in self.brands.items():
                self._day_of_use(label, brand, rng, day)
            if day % 4 == 0 or day == days:
                self.context.anchorer.anchor_now()
            progress("history days", day, days)
        self.clock.move_to(int(time.time()))  # from here on the devnet's clock follows the wall clock again
        self.context.ledger.rpc.request("evm_mine", [])
        return HistoryReport(days, **vars(self.tally))


def seed_history(
    context: HistoryTargets,
    customers: list[LocalAccount],
    brands: dict[str, str],
    days: int,
    progress: Callable[[str, int, int], None] | None = None,
) -> HistoryReport:
    """Up to `days` days of history ending before the wall clock; none when the devnet's clock is not behind."""
    if context.ledger.rpc.chain_id() != DEVNET_CHAIN_ID:
        raise ConfigError("the demo history moves the chain's clock: it only runs on the local devnet")
    fits = min(days, days_available(context.ledger) - 1)
    if fits < 1:
        return HistoryReport(0)
    return _History(context, customers, brands).run(fits, progress or (lambda _s, _d, _t: None))
