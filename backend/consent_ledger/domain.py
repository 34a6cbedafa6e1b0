"""Plain values shared by every layer: the messages customers sign and the state the chain holds.

A grant carries, per purpose, the categories allowed for that purpose (`PurposeTerms`). Purposes are
numbered 0..63 (bit i of a purposes mask is purpose i); categories are 64-bit masks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

UINT64_MAX = 2**64 - 1
UINT40_MAX = 2**40 - 1
PURPOSE_LIMIT = 64  # purposes are numbered 0..63


@dataclass(frozen=True, slots=True)
class PurposeTerms:
    """The categories a grant allows for one purpose (`purpose` is the purpose's number, its bit)."""

    purpose: int
    categories: int

    @property
    def bit(self) -> int:
        return 1 << self.purpose


Terms = tuple[PurposeTerms, ...]


def terms_of(pairs: Iterable[tuple[int, int]]) -> Terms:
    """Terms from (purpose number, categories mask) pairs, in ascending order of purpose, as the
    contract wants them; a purpose named twice gets the union of its categories."""
    merged: dict[int, int] = {}
    for purpose, categories in pairs:
        merged[purpose] = merged.get(purpose, 0) | categories
    return tuple(PurposeTerms(p, merged[p]) for p in sorted(merged))


def uniform_terms(categories: int, purposes: int) -> Terms:
    """The same categories for every purpose of the `purposes` mask."""
    return tuple(PurposeTerms(p, categories) for p in range(PURPOSE_LIMIT) if purposes >> p & 1)


def purposes_mask(terms: Iterable[PurposeTerms]) -> int:
    mask = 0
    for term in terms:
        mask |= term.bit
    return mask


def categories_union(terms: Iterable[PurposeTerms]) -> int:
    mask = 0
    for term in terms:
        mask |= term.categories
    return mask


class HasTerms:
    """What every holder of `terms` (a grant message, a grant's state, a Granted log) answers the same way."""

    __slots__ = ()
    terms: Terms

    @property
    def purposes(self) -> int:
        """The purposes mask the terms name."""
        return purposes_mask(self.terms)

    @property
    def categories(self) -> int:
        """Every category the terms name, for any purpose."""
        return categories_union(self.terms)


def terms_allow(terms: Iterable[PurposeTerms], categories: int, purposes: int) -> bool:
    """The contract's rule, without time: at least one purpose asked for, every one of them in the
    terms, and each allowing every category asked for."""
    if purposes == 0:
        return False
    by_bit = {term.bit: term.categories for term in terms}
    for p in range(PURPOSE_LIMIT):
        bit = 1 << p
        if purposes & bit and (bit not in by_bit or by_bit[bit] & categories != categories):
            return False
    return True


def wire_terms(terms: Iterable[PurposeTerms]) -> tuple[int, tuple[int, ...]]:
    """Terms as the contract and the signed `Grant` carry them: the purposes mask, and the categories
    of each purpose in ascending order of purpose (`categoriesPerPurpose`). A purpose named twice
    keeps both entries, so the contract refuses the list (one entry more than the mask has bits)."""
    ordered = sorted(terms, key=lambda term: term.purpose)
    return purposes_mask(ordered), tuple(term.categories for term in ordered)


def terms_from_wire(purposes: int, categories: Sequence[int]) -> Terms:
    """The inverse of `wire_terms`. Raises ValueError unless `categories` has one entry per bit of
    `purposes` (a mask of purposes 0..63)."""
    if not 0 <= purposes < 1 << PURPOSE_LIMIT:
        raise ValueError(f"purposes must be a 64-bit mask, got {purposes}")
    bits = [p for p in range(PURPOSE_LIMIT) if purposes >> p & 1]
    if len(bits) != len(categories):
        raise ValueError(f"{len(bits)} purposes but {len(categories)} categories masks")
    return tuple(PurposeTerms(p, c) for p, c in zip(bits, categories, strict=True))


def terms_from_json(items: Iterable[Mapping[str, int]]) -> Terms:
    """Terms from [{"purpose": n, "categories": mask}] (the indexer's history form)."""
    return tuple(PurposeTerms(int(item["purpose"]), int(item["categories"])) for item in items)


def categories_for(terms: Iterable[PurposeTerms], purpose: int) -> int:
    """The categories the terms allow for purpose number `purpose` (0 when not granted for it)."""
    for term in terms:
        if term.purpose == purpose:
            return term.categories
    return 0


@dataclass(frozen=True, slots=True)
class GrantRequest(HasTerms):
    """The EIP-712 `Grant` message. Addresses are checksummed hex strings; times are unix seconds.
    `terms` lists each purpose once, ascending, with the categories allowed for it."""

    customer: str
    brand: str
    terms: Terms
    expires_at: int
    notice_hash: bytes
    nonce: int
    deadline: int


@dataclass(frozen=True, slots=True)
class RevokeRequest:
    """The EIP-712 `Revoke` message."""

    customer: str
    brand: str
    nonce: int
    deadline: int


@dataclass(frozen=True, slots=True)
class GrantState(HasTerms):
    """What the contract holds for one (customer, brand) pair (use `categories_for` to ask per purpose)."""

    terms: Terms
    expires_at: int
    granted_at: int
    nonce: int

    def categories_for(self, purpose: int) -> int:
        return categories_for(self.terms, purpose)

    def active_at(self, timestamp: int) -> bool:
        return timestamp < self.expires_at

    def allows(self, categories: int, purposes: int, timestamp: int) -> bool:
        """The same rule as the contract's `isAllowed`."""
        return self.active_at(timestamp) and terms_allow(self.terms, categories, purposes)


@dataclass(frozen=True, slots=True)
class Query:
    """One question for the batch view: does `customer` allow `brand` all these bits?"""

    customer: str
    brand: str
    categories: int
    purposes: int
