"""Which brands must be told of which change, and what the access log says they were told: pure.

GDPR Art. 17(2) and 19: every brand that received a customer's data is told of that customer's
revocations and erasures. A revocation of brand B by customer C (a `Revoked` event in block N) is owed
to B when B received C's data at a block up to N (a version-1 leaf); an erasure of C is owed to every
brand that received C's data before it. The log's version-3 leaves say which brand was told (a
delivered step) and which acknowledged (an acknowledged step). A step is matched to its change by
event type, customer, brand and, for a revocation, the change's time (the block's timestamp: the
webhook event's `occurred_at`); the acknowledgement that settles a change is "stopped_processing" for a
revocation and "deleted" for an erasure ("received" only says the event arrived).

Used by the independent verifier (from an exported file and the chain) and by the API's views (from
the database), so both say the same.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from consent_ledger.audit.leaf import PropagationLeaf

REVOKED = "consent.revoked"
ERASED = "data.erased"
OWED = (REVOKED, ERASED)  # the changes every recipient of the data must be told of
SETTLES = {REVOKED: "stopped_processing", ERASED: "deleted"}


@dataclass(frozen=True, slots=True)
class Change:
    """A revocation (`brand` set, `block_number` its block) or an erasure (`brand` None) of a customer."""

    event_type: str
    customer: str
    occurred_at: int  # unix seconds: the block's timestamp, or the erasure's time
    brand: str | None = None
    block_number: int | None = None
    tx_hash: str | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """A brand received a customer's data (a version-1 leaf), decided at `block_number`."""

    customer: str
    brand: str
    block_number: int
    released_at: int


@dataclass(frozen=True, slots=True)
class Step:
    """A version-3 leaf at `index` of the log."""

    index: int
    leaf: PropagationLeaf


@dataclass
class Notice:
    """A change as it concerns one brand: whether the brand was owed it (it received the data), the
    delivered step and the acknowledgements the log holds for it."""

    event_type: str
    customer: str
    brand: str
    occurred_at: int
    owed: bool
    block_number: int | None = None
    tx_hash: str | None = None
    told: Step | None = None
    acks: list[Step] = field(default_factory=list)

    @property
    def event_id(self) -> bytes | None:
        first = self.told or (self.acks[0] if self.acks else None)
        return None if first is None else first.leaf.event_id

    @property
    def settled(self) -> Step | None:
        """The first acknowledgement that settles the change ("stopped_processing" / "deleted")."""
        wanted = SETTLES.get(self.event_type)
        return next((a for a in sorted(self.acks, key=lambda s: s.leaf.at) if a.leaf.ack == wanted), None)

    @property
    def acknowledged(self) -> Step | None:
        """The settling acknowledgement, else the first other one (the page says which it was)."""
        return self.settled or min(self.acks, key=lambda s: s.leaf.at, default=None)

    @property
    def told_at(self) -> int | None:
        """When the brand was told: its delivered step, else its first acknowledgement (which shows that the
        event reached the brand even when its delivery's 2xx was not recorded)."""
        first = self.told or min(self.acks, key=lambda s: s.leaf.at, default=None)
        return None if first is None else first.leaf.at


_Key = tuple[str, str, str, int | None]  # event type, customer, brand, occurred at (None: any)


def _key(event_type: str, customer: str, brand: str, occurred_at: int) -> _Key:
    return (event_type, customer.lower(), brand.lower(), occurred_at if event_type != ERASED else None)


def notices(changes: Iterable[Change], receipts: Iterable[Receipt], steps: Iterable[Step]) -> list[Notice]:
    """Every owed notice (told or not) and every other revocation or erasure the log says a brand was told
    of, oldest change first."""
    received: dict[tuple[str, str], list[Receipt]] = defaultdict(list)
    recipients: dict[str, set[str]] = defaultdict(set)
    for receipt in receipts:
        received[(receipt.customer.lower(), receipt.brand.lower())].append(receipt)
        recipients[receipt.customer.lower()].add(receipt.brand)
    found: dict[_Key, Notice] = {}
    for change in changes:
        customer = change.customer.lower()
        if change.event_type == REVOKED and change.brand is not None:
            owed = any(r.block_number <= (change.block_number or 0) for r in received[(customer, change.brand.lower())])
            brands = [change.brand]
        else:
            owed, brands = (
                True,
                sorted(b for b in recipients[customer] if _before(received[(customer, b.lower())], change)),
            )
        for brand in brands:
            key = _key(change.event_type, change.customer, brand, change.occurred_at)
            found.setdefault(
                key,
                Notice(
                    change.event_type,
                    change.customer,
                    brand,
                    change.occurred_at,
                    owed,
                    change.block_number,
                    change.tx_hash,
                ),
            )
    for step in steps:
        leaf = step.leaf
        if leaf.event_type not in OWED:
            continue
        key = _key(leaf.event_type, leaf.customer, leaf.brand, leaf.occurred_at)
        notice = found.setdefault(key, Notice(leaf.event_type, leaf.customer, leaf.brand, leaf.occurred_at, owed=False))
        if leaf.step == "delivered":
            if notice.told is None or leaf.at < notice.told.leaf.at:
                notice.told = step
        else:
            notice.acks.append(step)
    return sorted(found.values(), key=lambda n: (n.occurred_at, n.brand.lower(), n.event_type))


def _before(receipts: Sequence[Receipt], change: Change) -> bool:
    return any(r.released_at <= change.occurred_at for r in receipts)


@dataclass(frozen=True, slots=True)
class Pending:
    """A notice still waiting: `not_told` (owed, no delivered step) or `unacknowledged` (told, no settling
    acknowledgement)."""

    kind: str
    notice: Notice
    waiting: int  # seconds since the change (not_told) or since the brand was told (unacknowledged)


def pending(found: Iterable[Notice], now: int) -> list[Pending]:
    """Every notice still waiting at `now` for its delivery or its settling acknowledgement. Only owed notices
    can be `not_told`; any told one can be `unacknowledged`."""
    waiting = []
    for notice in found:
        told_at = notice.told_at
        if told_at is None:
            if notice.owed:
                waiting.append(Pending("not_told", notice, max(now - notice.occurred_at, 0)))
        elif notice.settled is None:
            waiting.append(Pending("unacknowledged", notice, max(now - told_at, 0)))
    return waiting


def overdue(found: Iterable[Notice], now: int, within: int) -> list[Pending]:
    """The pending notices that have waited more than `within` seconds at `now`."""
    return [late for late in pending(found, now) if late.waiting > within]
