"""The figures of a brand's public stewardship page, pure: decoded chain events, access-log leaves and the
custodian's on-chain anchors in, one JSON-ready dictionary out. The server's page and the
`consent-ledger stewardship report` command both call `compute`, so they cannot disagree.

What counts, and why it can be recomputed by anyone:

- grants: the brand's `Granted` and `Revoked` events up to the `as_of` block, each dated by its block's
  timestamp. A grant is *given* when the customer had no grant in force for the brand at that time, or the
  new one keeps every (purpose, category) pair of the old one (a renewal or a widening); it is *narrowed*
  when it drops any pair. *Active* grants are those in force at the `as_of` block's time.
- revocation propagation: a revocation on the chain is delivered (or acknowledged) when a version-3 leaf
  of type consent.revoked names its customer, the brand and its block's timestamp as the time it occurred;
  the time to acknowledge runs from that block's timestamp to the first acknowledgement's.
- releases, insight queries, propagation: leaves of the access log, but only those an on-chain anchor of
  the custodian covers (the leaves below the largest anchored size): what the chain does not commit to, a
  reader cannot check. Releases are counted per purpose and per category, never per customer.
- the log verifies when every leaf decodes and, for every on-chain anchor, the root recomputed from the
  leaves at that size is the anchored root (so the anchors also form one growing log).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from consent_ledger.audit import leaf as leaf_codec
from consent_ledger.audit.errors import AuditError
from consent_ledger.audit.merkle import MerkleTree, leaf_hash
from consent_ledger.catalog import Catalog
from consent_ledger.chain.events import Anchored, Granted, Revoked

FORMAT = "consent-ledger-stewardship"
VERSION = 1
MICRO = leaf_codec.MICRO
REVOKED_EVENT = "consent.revoked"


@dataclass(frozen=True)
class Naming:
    """Names of purpose and category bits (from the catalog); notice hashes -> notice versions."""

    purposes: Mapping[int, str]
    categories: Mapping[int, str]
    notices: Mapping[str, str] = field(default_factory=dict)

    def purpose(self, bit: int) -> str:
        return self.purposes.get(bit, f"purpose-{bit}")

    def category(self, bit: int) -> str:
        return self.categories.get(bit, f"category-{bit}")


def naming_of(catalog: Catalog) -> Naming:
    return Naming(
        purposes={p.bit: p.name for p in catalog.purposes},
        categories={c.bit: c.name for c in catalog.categories},
        notices={catalog.notice.hash.lower(): catalog.notice.version},
    )


@dataclass(frozen=True)
class ChainFacts:
    """What the chain says, read up to block `as_of_block`: the brand's grant events in chain order, the
    custodian's anchors, and the timestamp of every block they were mined in (and of `as_of_block`)."""

    chain_id: int
    contract: str
    custodian: str
    brand: str
    as_of_block: int
    events: Sequence[Granted | Revoked]
    anchors: Sequence[Anchored]
    times: Mapping[int, int]


def _day(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).date().isoformat()


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def _bits(mask: int) -> Iterable[int]:
    bit = 0
    while mask:
        if mask & 1:
            yield bit
        mask >>= 1
        bit += 1


def _pairs(event: Granted) -> set[tuple[int, int]]:
    return {(term.purpose, bit) for term in event.terms for bit in _bits(term.categories)}


def _epsilon(micro: int) -> float:
    return round(micro / MICRO, 6)


@dataclass
class _Daily:
    given: int = 0
    narrowed: int = 0
    revoked: int = 0
    releases: int = 0
    insight_queries: int = 0
    epsilon_micro: int = 0


def _grants(facts: ChainFacts, naming: Naming, daily: dict[str, _Daily]) -> tuple[dict[str, Any], list[Any]]:
    current: dict[str, Granted] = {}
    totals: Counter[str] = Counter()
    notices: Counter[str] = Counter()
    for event in facts.events:
        at = facts.times[event.at.block_number]
        day = daily[_day(at)]
        if isinstance(event, Revoked):
            current.pop(event.customer, None)
            totals["revoked"] += 1
            day.revoked += 1
            continue
        before = current.get(event.customer)
        narrowed = before is not None and before.expires_at > at and bool(_pairs(before) - _pairs(event))
        kind = "narrowed" if narrowed else "given"
        totals[kind] += 1
        setattr(day, kind, getattr(day, kind) + 1)
        notices[event.notice_hash.lower()] += 1
        current[event.customer] = event
    now = facts.times[facts.as_of_block]
    active = [grant for grant in current.values() if grant.expires_at > now]
    in_force: Counter[str] = Counter(grant.notice_hash.lower() for grant in active)
    grants = {
        "given": totals["given"],
        "narrowed": totals["narrowed"],
        "revoked": totals["revoked"],
        "active": len(active),
    }
    notice_rows = [
        {"hash": digest, "version": naming.notices.get(digest), "grants": notices[digest], "active": in_force[digest]}
        for digest in sorted(notices, key=lambda d: (-notices[d], d))
    ]
    return grants, notice_rows


@dataclass
class _LogCheck:
    anchored_size: int = 0
    problems: list[str] = field(default_factory=list)


def _check_log(facts: ChainFacts, leaves: Sequence[bytes]) -> _LogCheck:
    """Recompute the tree over `leaves`; every on-chain anchor's root must be the tree's root at its size."""
    check = _LogCheck()
    anchors = sorted(facts.anchors, key=lambda a: (a.size, a.at.block_number))
    if not anchors:
        return check
    largest = anchors[-1].size
    tree = MerkleTree(leaf_hash(data) for data in leaves[:largest])
    check.anchored_size = min(largest, tree.size)
    for anchor in anchors:
        if anchor.size > tree.size:
            check.problems.append(f"an anchor covers {anchor.size} leaves but the log holds {tree.size}")
            continue
        computed = "0x" + tree.root(anchor.size).hex()
        if computed != anchor.root.lower():
            check.problems.append(
                f"at size {anchor.size} the log's root is {computed}, the chain holds {anchor.root.lower()}"
                f" (block {anchor.at.block_number})"
            )
    return check


@dataclass
class _LogFigures:
    releases: Counter[str] = field(default_factory=Counter)
    purposes: Counter[str] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)
    queries: int = 0
    epsilon_micro: int = 0
    delivered: set[tuple[str, int]] = field(default_factory=set)  # (customer, occurred at) of revocations
    acknowledged: dict[tuple[str, int], int] = field(default_factory=dict)  # -> the first acknowledgement's time


def _count_leaves(
    brand: str, leaves: Sequence[bytes], naming: Naming, daily: dict[str, _Daily], check: _LogCheck
) -> _LogFigures:
    found = _LogFigures()
    wanted = brand.lower()
    for index, data in enumerate(leaves[: check.anchored_size]):
        try:
            decoded = leaf_codec.decode_any(data)
        except AuditError as error:
            check.problems.append(f"leaf {index} does not decode: {error}")
            continue
        if decoded.brand.lower() != wanted:
            continue
        if isinstance(decoded, leaf_codec.PropagationLeaf):
            if decoded.event_type == REVOKED_EVENT:
                key = (decoded.customer.lower(), decoded.occurred_at)
                if decoded.step == "delivered":
                    found.delivered.add(key)
                else:
                    found.acknowledged[key] = min(decoded.at, found.acknowledged.get(key, decoded.at))
            continue
        if isinstance(decoded, leaf_codec.InsightLeaf):
            found.queries += 1
            found.epsilon_micro += decoded.epsilon_micro
            day = daily[_day(decoded.queried_at)]
            day.insight_queries += 1
            day.epsilon_micro += decoded.epsilon_micro
            continue
        found.releases["total"] += 1
        daily[_day(decoded.released_at)].releases += 1
        for bit in _bits(decoded.purposes):
            found.purposes[naming.purpose(bit)] += 1
        for bit in _bits(decoded.categories):
            found.categories[naming.category(bit)] += 1
    return found


def _ranked(counts: Counter[str]) -> list[dict[str, Any]]:
    return [{"name": name, "releases": counts[name]} for name in sorted(counts, key=lambda n: (-counts[n], n))]


def _daily_rows(daily: dict[str, _Daily], last_day: str) -> list[dict[str, Any]]:
    """One row per calendar day from the first day with anything to `last_day`, gaps filled with zeros."""
    if not daily:
        return []
    first = datetime.fromisoformat(min(daily)).date()
    last = max(datetime.fromisoformat(last_day).date(), datetime.fromisoformat(max(daily)).date())
    rows = []
    for ordinal in range(first.toordinal(), last.toordinal() + 1):
        day = datetime.fromordinal(ordinal).date().isoformat()
        figures = daily.get(day, _Daily())
        rows.append(
            {
                "day": day,
                "given": figures.given,
                "narrowed": figures.narrowed,
                "revoked": figures.revoked,
                "releases": figures.releases,
                "insight_queries": figures.insight_queries,
                "epsilon": _epsilon(figures.epsilon_micro),
            }
        )
    return rows


def _propagation(facts: ChainFacts, found: _LogFigures) -> dict[str, Any]:
    """Each revocation on the chain against the version-3 leaves that name it."""
    revocations = [
        (event.customer.lower(), facts.times[event.at.block_number])
        for event in facts.events
        if isinstance(event, Revoked)
    ]
    waits = [found.acknowledged[key] - key[1] for key in revocations if key in found.acknowledged]
    return {
        "revocations": len(revocations),
        "delivered": sum(1 for key in revocations if key in found.delivered),
        "acknowledged": len(waits),
        "share_acknowledged": round(len(waits) / len(revocations), 6) if revocations else None,
        "median_seconds": _median(waits),
        "worst_seconds": float(max(waits)) if waits else None,
    }


def _median(values: list[int]) -> float | None:
    return float(statistics.median(values)) if values else None


def compute(facts: ChainFacts, leaves: Sequence[bytes], naming: Naming) -> dict[str, Any]:
    """Every figure of the brand's page, from the chain's facts and the access log's leaves (in index order)."""
    daily: dict[str, _Daily] = defaultdict(_Daily)
    grants, notices = _grants(facts, naming, daily)
    check = _check_log(facts, leaves)
    found = _count_leaves(facts.brand, leaves, naming, daily, check)
    now = facts.times[facts.as_of_block]
    last = max(facts.anchors, key=lambda a: (a.size, a.at.block_number), default=None)
    return {
        "format": FORMAT,
        "version": VERSION,
        "brand": facts.brand,
        "chain": {"chain_id": facts.chain_id, "contract": facts.contract, "custodian": facts.custodian},
        "as_of": {"block": facts.as_of_block, "time": _iso(now)},
        "grants": grants,
        "releases": {
            "total": found.releases["total"],
            "by_purpose": _ranked(found.purposes),
            "by_category": _ranked(found.categories),
        },
        "insights": {"queries": found.queries, "epsilon_spent": _epsilon(found.epsilon_micro)},
        "propagation": _propagation(facts, found),
        "log": {
            "verifies": not check.problems,
            "problems": check.problems,
            "anchored_leaves": check.anchored_size,
            "anchors": len(facts.anchors),
            "last_anchor": None
            if last is None
            else {
                "size": last.size,
                "root": last.root.lower(),
                "block_number": last.at.block_number,
                "tx_hash": last.at.tx_hash,
                "time": _iso(facts.times[last.at.block_number]),
            },
        },
        "notices": notices,
        "daily": _daily_rows(daily, _day(now)),
    }


def differences(page: Any, recomputed: Any, path: str = "") -> list[str]:
    """Where two figure documents differ, as `path: page <value>, recomputed <value>` lines (empty: none)."""
    if isinstance(page, dict) and isinstance(recomputed, dict):
        found = []
        for key in sorted(set(page) | set(recomputed), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in recomputed:
                found.append(f"{where}: on the page only ({page[key]!r})")
            elif key not in page:
                found.append(f"{where}: missing from the page (recomputed {recomputed[key]!r})")
            else:
                found.extend(differences(page[key], recomputed[key], where))
        return found
    if isinstance(page, list) and isinstance(recomputed, list):
        found = []
        if len(page) != len(recomputed):
            found.append(f"{path}: {len(page)} entries on the page, {len(recomputed)} recomputed")
        for position, (left, right) in enumerate(zip(page, recomputed, strict=False)):
            found.extend(differences(left, right, f"{path}[{position}]"))
        return found
    if page != recomputed or isinstance(page, bool) != isinstance(recomputed, bool):
        return [f"{path}: page {page!r}, recomputed {recomputed!r}"]
    return []
