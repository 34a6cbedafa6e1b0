"""Aggregate insights instead of records: noisy counts and histograms over consenting customers only.

A query names one purpose and, per vault category, the bins to count (e.g. age ranges). It is decided
at one pinned block by the gatekeeper's batch view: only customers whose grant at that block covers
every asked category for that purpose are counted; nobody else's data is decrypted. The counts (the
total, then each histogram's bins) get discrete Laplace noise from OpenDP calibrated to the query's
epsilon, and any noisy count below the minimum group size is suppressed. No record and no address
leaves.

The brand's privacy budget for the period is charged and the query's leaf appended to the access log
in ONE transaction; the answer is returned only after it commits. A refused charge or a failed commit
returns nothing and charges nothing.
"""

from __future__ import annotations

import uuid
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from itertools import compress
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.addresses import checksum_address
from consent_ledger.audit.leaf import InsightLeaf
from consent_ledger.audit.log import AccessLog
from consent_ledger.catalog import Catalog
from consent_ledger.db.base import utc_now
from consent_ledger.errors import InputError, UnavailableError
from consent_ledger.insights.budget import MICRO, BudgetSpentError, Period, charge, spent, to_micro
from consent_ledger.insights.noise import accuracy, laplace_counts
from consent_ledger.services.gatekeeper import BlockPin, CheckResult, Gatekeeper
from consent_ledger.vault import Vault
from consent_ledger.vault.aggregates import SealedHolder

MAX_HISTOGRAMS = 8
MAX_BINS = 50
MAX_BIN_CHARS = 64
CHECK_CHUNK = 5_000  # holders per batch-view question set: decrypting one overlaps asking the next


_H = TypeVar("_H")  # one sealed holder, as the vault reads it


@dataclass(frozen=True, slots=True)
class _Asking:
    """What the chain is asked about each holder: at `pin`, for `brand`, these category and purpose bits."""

    pin: BlockPin
    brand: str
    categories: int
    purposes: int


@dataclass(frozen=True, slots=True)
class InsightPolicy:
    epsilon_per_query: float
    epsilon_per_period: float
    period_seconds: int
    min_group_size: int


@dataclass(frozen=True, slots=True)
class HistogramSpec:
    """Count customers per bin of `category`'s values. A value may list several items separated by commas
    (e.g. interests); each customer counts in at most `contributions` bins (the first ones matched, in
    bin order), which bounds how much one person can move the histogram."""

    category: str
    bins: list[str]
    contributions: int = 1


@dataclass(frozen=True, slots=True)
class Cell:
    label: str
    count: int | None  # None: suppressed

    def to_json(self) -> dict[str, Any]:
        return {"bin": self.label, "count": self.count, "suppressed": self.count is None}


@dataclass(frozen=True, slots=True)
class InsightResult:
    query_id: str
    brand: str
    purpose: str
    pin: BlockPin
    total: int | None
    histograms: list[tuple[str, list[Cell]]]
    epsilon_spent: float
    epsilon_remaining: float
    period: Period
    scale: float
    accuracy_95: float
    min_group_size: int
    leaf_index: int

    def to_json(self) -> dict[str, Any]:
        return {
            "query_id": self.query_id,
            "brand": self.brand,
            "purpose": self.purpose,
            "block": {"number": self.pin.number, "hash": self.pin.hash, "timestamp": self.pin.timestamp},
            "total": {"count": self.total, "suppressed": self.total is None},
            "histograms": [
                {"category": category, "bins": [cell.to_json() for cell in cells]}
                for category, cells in self.histograms
            ],
            "privacy": {
                "mechanism": "discrete Laplace (OpenDP make_laplace on integer counts)",
                "epsilon_spent": self.epsilon_spent,
                "epsilon_remaining": self.epsilon_remaining,
                "period_start": self.period.iso(self.period.start),
                "period_end": self.period.iso(self.period.end),
                "noise_scale": self.scale,
                "accuracy_95": round(self.accuracy_95, 3),
                "min_group_size": self.min_group_size,
            },
            "leaf_index": self.leaf_index,
        }


def _items(value: str) -> list[str]:
    return [item.strip().casefold() for item in value.split(",") if item.strip()]


class _Binner:
    """One histogram's true counts, built customer by customer. The bins a customer's values fall in are
    worked out once per distinct list of values (profiles repeat: interests, age ranges), then counted."""

    def __init__(self, spec: HistogramSpec) -> None:
        self._index = {label.casefold(): n for n, label in enumerate(spec.bins)}
        self._limit = spec.contributions
        self._known: dict[tuple[str, ...], list[int]] = {}
        self.counts = [0] * len(spec.bins)

    def _bins(self, values: tuple[str, ...]) -> list[int]:
        index = self._index
        matched = sorted({index[item] for value in values for item in _items(value) if item in index})
        return matched[: self._limit]

    def add(self, values: Sequence[str], customers: int = 1) -> None:
        """Count `customers` customers holding `values`."""
        key = tuple(values)
        bins = self._known.get(key)
        if bins is None:
            bins = self._known[key] = self._bins(key)
        counts = self.counts
        for n in bins:
            counts[n] += customers


def bin_counts(values: Sequence[list[str]], spec: HistogramSpec) -> list[int]:
    """True per-bin counts: `values` holds each counted customer's values in `spec.category`."""
    binner = _Binner(spec)
    for customer_values in values:
        binner.add(customer_values)
    return binner.counts


class InsightService:
    def __init__(
        self,
        gatekeeper: Gatekeeper,
        vault: Vault,
        session_factory: sessionmaker[Session],
        catalog: Catalog,
        log: AccessLog,
        policy: InsightPolicy,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.gatekeeper = gatekeeper
        self.vault = vault
        self._sessions = session_factory
        self.catalog = catalog
        self.log = log
        self.policy = policy
        self._clock = clock
        self._limit = to_micro(policy.epsilon_per_period)

    def _check(self, purpose: str, histograms: Sequence[HistogramSpec], epsilon: float) -> None:
        self.catalog.purpose_mask([purpose])  # InputError for an unknown purpose
        if not 0 < epsilon <= self.policy.epsilon_per_query:
            raise InputError(f"epsilon must be above 0 and at most {self.policy.epsilon_per_query:g} per query")
        if not 1 <= len(histograms) <= MAX_HISTOGRAMS:
            raise InputError(f"ask for 1 to {MAX_HISTOGRAMS} histograms")
        categories = [h.category for h in histograms]
        if len(set(categories)) != len(categories):
            raise InputError("one histogram per category")
        self.catalog.category_mask(categories)  # InputError for an unknown category
        for spec in histograms:
            labels = [label.strip().casefold() for label in spec.bins]
            if not 1 <= len(labels) <= MAX_BINS or any(not 0 < len(label) <= MAX_BIN_CHARS for label in labels):
                raise InputError(f"{spec.category}: name 1 to {MAX_BINS} bins of 1 to {MAX_BIN_CHARS} characters")
            if len(set(labels)) != len(labels):
                raise InputError(f"{spec.category}: a bin is named twice")
            if not 1 <= spec.contributions <= len(labels):
                raise InputError(f"{spec.category}: contributions must be between 1 and the number of bins")

    def budget(self, brand: str) -> dict[str, Any]:
        brand = checksum_address(brand)
        period = Period.containing(self._clock(), self.policy.period_seconds)
        with self._sessions() as session:
            used = spent(session, brand, period)
        return {
            "brand": brand,
            "epsilon_per_query": self.policy.epsilon_per_query,
            "epsilon_per_period": self.policy.epsilon_per_period,
            "epsilon_spent": used / MICRO,
            "epsilon_remaining": max(self._limit - used, 0) / MICRO,
            "period_start": period.iso(period.start),
            "period_end": period.iso(period.end),
            "min_group_size": self.policy.min_group_size,
        }

    def query(self, brand: str, purpose: str, histograms: Sequence[HistogramSpec], epsilon: float) -> InsightResult:
        brand = checksum_address(brand)
        self._check(purpose, histograms, epsilon)
        sensitivity = 1 + sum(h.contributions for h in histograms)  # the total, plus each histogram's bound
        period = Period.containing(self._clock(), self.policy.period_seconds)
        with self._sessions() as session:  # refuse early, before any chain or vault work
            remaining = self._limit - spent(session, brand, period)
        if to_micro(epsilon) > remaining:
            raise BudgetSpentError(to_micro(epsilon), max(remaining, 0), period, int(self._clock().timestamp()))

        categories = [h.category for h in histograms]
        category_mask = self.catalog.category_mask(categories)
        purpose_mask = self.catalog.purpose_mask([purpose])
        pin = self.gatekeeper.pin()
        true_counts = self._true_counts(pin, brand, histograms, category_mask, purpose_mask)
        noisy = laplace_counts(true_counts, sensitivity, epsilon)
        shown = [n if n >= self.policy.min_group_size else None for n in noisy.counts]

        query_id = str(uuid.uuid4())
        epsilon_micro = to_micro(noisy.epsilon)
        leaf = InsightLeaf(
            query_id,
            brand,
            category_mask,
            purpose_mask,
            pin.number,
            pin.hash,
            int(self._clock().timestamp()),
            epsilon_micro,
        )
        left, index = self._commit(brand, period, epsilon_micro, leaf)

        cells: list[tuple[str, list[Cell]]] = []
        offset = 1
        for spec in histograms:
            cells.append((spec.category, [Cell(b, shown[offset + n]) for n, b in enumerate(spec.bins)]))
            offset += len(spec.bins)
        return InsightResult(
            query_id,
            brand,
            purpose,
            pin,
            shown[0],
            cells,
            epsilon_micro / MICRO,
            left / MICRO,
            period,
            noisy.scale,
            accuracy(noisy.scale),
            self.policy.min_group_size,
            index,
        )

    def _true_counts(
        self, pin: BlockPin, brand: str, histograms: Sequence[HistogramSpec], category_mask: int, purpose_mask: int
    ) -> list[int]:
        """[consenting customers, then each histogram's bins], over the holders whose grant at `pin` covers
        every asked category for the purpose. Counted categories are read from the vault's counting
        records (one row per customer, only the asked categories' segments opened), any other from the
        field rows."""
        categories = [h.category for h in histograms]
        ask = _Asking(pin, brand, category_mask, purpose_mask)
        if self.vault.counting.counts_cover(categories):
            return self._tally(
                ask,
                histograms,
                self.vault.counting.sealed_counts(categories, CHECK_CHUNK),
                lambda row: row[0],
                lambda held: self.vault.counting.count_values(held, categories),
            )

        def open_fields(held: list[SealedHolder]) -> list[Counter[tuple[str, ...]]]:
            counted: list[Counter[tuple[str, ...]]] = [Counter() for _ in categories]
            for holder in held:
                values = self.vault.counting.open_for_counting(holder)
                for tally, category in zip(counted, categories, strict=True):
                    tally[tuple(values.get(category, ()))] += 1
            return counted

        def chunks() -> Generator[list[SealedHolder]]:
            holders = self.vault.counting.sealed_holders(set(categories))
            for start in range(0, len(holders), CHECK_CHUNK):
                yield holders[start : start + CHECK_CHUNK]

        return self._tally(ask, histograms, chunks(), lambda holder: holder.customer, open_fields)

    def _tally(
        self,
        ask: _Asking,
        histograms: Sequence[HistogramSpec],
        chunks: Generator[list[_H]],
        customer_of: Callable[[_H], str],
        open_values: Callable[[list[_H]], list[Counter[tuple[str, ...]]]],
    ) -> list[int]:
        """Count the holders the vault reads in `chunks`: each chunk is handed to a worker thread that asks the
        chain about it, while this thread reads the next and opens (`open_values`: per asked category, how
        many of the given holders hold each distinct list of values) and counts the consenting holders of
        the chunks already answered; nobody else is decrypted."""
        binners = [_Binner(spec) for spec in histograms]
        counted = 0
        waiting: deque[tuple[list[_H], Future[CheckResult]]] = deque()

        def count(chunk: list[_H], answer: Future[CheckResult]) -> None:
            nonlocal counted
            answers = answer.result().answers
            if len(answers) != len(chunk):
                raise UnavailableError(f"the chain gave {len(answers)} answers to {len(chunk)} questions")
            consenting = list(compress(chunk, answers))
            counted += len(consenting)
            for binner, tally in zip(binners, open_values(consenting), strict=True):
                for values, customers in tally.items():
                    binner.add(values, customers)

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="insight-check") as pool:
            try:
                for chunk in self._read(chunks):
                    questions = [(customer_of(h), ask.categories, ask.purposes) for h in chunk]
                    waiting.append((chunk, pool.submit(self.gatekeeper.check_at, ask.pin, ask.brand, questions)))
                    while waiting and waiting[0][1].done():
                        count(*waiting.popleft())
                while waiting:
                    count(*waiting.popleft())
            finally:
                chunks.close()  # after a failure, read nothing more
                for _, future in waiting:
                    future.cancel()  # and ask the chain nothing more
        return [counted] + [n for binner in binners for n in binner.counts]

    @staticmethod
    def _read(chunks: Generator[list[_H]]) -> Iterator[list[_H]]:
        """`chunks`, a failure to read the vault an `UnavailableError`."""
        while True:
            try:
                chunk = next(chunks, None)
            except SQLAlchemyError as error:
                raise UnavailableError(f"the vault could not be read: {type(error).__name__}") from error
            if chunk is None:
                return
            yield chunk

    def _commit(self, brand: str, period: Period, epsilon_micro: int, leaf: InsightLeaf) -> tuple[int, int]:
        """Charge the budget and append the leaf in one transaction: (epsilon left, leaf index)."""
        try:
            with self._sessions() as session:
                now = int(self._clock().timestamp())
                left = charge(session, brand, period, epsilon_micro, self._limit, now)
                (index,) = self.log.append_and_commit(session, [leaf])
        except SQLAlchemyError as error:
            raise UnavailableError(f"the insight query could not be recorded: {type(error).__name__}") from error
        return left, index
