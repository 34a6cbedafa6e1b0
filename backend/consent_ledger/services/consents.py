"""The customer's consent use cases: typed data to sign, and accepting signed messages.

A signed message is checked here exactly as the contract will check it (terms, catalog bits, nonce,
deadline, signature), so an invalid one gets a 4xx and never reaches the outbox.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from consent_ledger.addresses import checksum_address
from consent_ledger.auth.errors import ForbiddenError
from consent_ledger.brands.registry import BrandRegistry
from consent_ledger.catalog import Catalog
from consent_ledger.chain import eip712
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.messages import parse_grant_message, parse_revoke_message, parse_signature
from consent_ledger.domain import PURPOSE_LIMIT, GrantRequest, RevokeRequest, Terms
from consent_ledger.errors import ConflictError, InputError
from consent_ledger.relayer.items import Kind
from consent_ledger.relayer.outbox import Outbox
from consent_ledger.relayer.rows import Submission
from consent_ledger.services.signatures import signed_by

DAY = 86_400
DEFAULT_DAYS = 180
SIGNING_WINDOW = 3_600  # a typed message must be submitted within an hour

Allow = Sequence[tuple[str, Sequence[str]]]  # (purpose name, category names allowed for it)


def check_terms_rules(terms: Terms) -> None:
    """The contract's rules on a grant's terms, in its order: at least one purpose; purposes 0..63,
    each once, ascending; each allowing at least one category."""
    if not terms:
        raise InputError("a grant must cover at least one purpose")
    previous = -1
    for index, term in enumerate(terms):
        if not previous < term.purpose < PURPOSE_LIMIT:
            raise InputError(f"terms[{index}]: purposes are 0 to 63, each listed once, in ascending order")
        if term.categories == 0:
            raise InputError(f"categoriesPerPurpose[{index}]: each purpose must allow at least one data category")
        previous = term.purpose


@dataclass(frozen=True)
class GrantRow:
    brand: str
    brand_name: str | None
    terms: list[dict[str, Any]]  # [{purpose, categories: [names]}], ascending
    categories: list[str]  # every category granted, for any purpose
    purposes: list[str]
    expires_at: int
    granted_at: int
    nonce: int

    def to_json(self) -> dict[str, Any]:
        return {
            "brand": self.brand,
            "brand_name": self.brand_name,
            "terms": self.terms,
            "categories": self.categories,
            "purposes": self.purposes,
            "expires_at": self.expires_at,
            "granted_at": self.granted_at,
            "nonce": str(self.nonce),
        }


class ConsentService:
    def __init__(
        self,
        ledger: Ledger,
        outbox: Outbox,
        catalog: Catalog,
        brands: BrandRegistry,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ledger = ledger
        self.outbox = outbox
        self.catalog = catalog
        self.brands = brands
        self._clock = clock

    def _now(self) -> int:
        """The later of the wall clock and the chain's latest block time: the contract judges expiry and
        deadlines by block time, which can run ahead of the wall clock (or lag on an idle devnet)."""
        chain_time = int(self.ledger.rpc.get_block("latest")["timestamp"], 16)
        return max(int(self._clock()), chain_time)

    def _registered_brand(self, brand: str) -> str:
        address = checksum_address(brand)
        if int(address, 16) == 0:
            raise InputError("brand 0x0 is not a brand: name a registered brand (GET /v1/brands)")
        if self.brands.name_of(address) is None:
            raise InputError(f"{address} is not a registered brand: pick one from GET /v1/brands")
        return address

    def _revocable_brand(self, customer: str, brand: str) -> str:
        """A revocation names a registered brand, or one the customer still has a grant with on-chain
        (a brand may leave the registry; withdrawing consent from it must stay possible)."""
        address = checksum_address(brand)
        if int(address, 16) != 0 and self.brands.name_of(address) is None:
            if self.ledger.grant_of(customer, address).expires_at == 0:
                raise InputError(f"{address} is not a registered brand and you have no grant to it to revoke")
            return address
        return self._registered_brand(address)

    def _check_notice(self, notice_hash: bytes) -> None:
        if notice_hash != self.catalog.notice.hash_bytes:
            raise InputError(
                f"noticeHash is not the hash of the published privacy notice ({self.catalog.notice.hash}): "
                "fetch typed data again and sign that"
            )

    def _next_nonce(self, customer: str, brand: str) -> int:
        if self.outbox.has_pending(customer, brand):
            raise ConflictError(
                f"a message for brand {brand} is still being relayed: wait until it is confirmed, then sign again"
            )
        return self.ledger.nonce_of(customer, brand)

    def grant_typed_data(
        self,
        customer: str,
        brand: str,
        allow: Allow,
        days: int | None = None,
        expires_at: int | None = None,
    ) -> dict[str, Any]:
        """Typed data for a grant allowing, for each (purpose, categories) of `allow`, those
        categories for that purpose."""
        terms = self.catalog.terms(allow)
        brand = self._registered_brand(brand)
        now = self._now()
        if expires_at is None:
            chosen = DEFAULT_DAYS if days is None else days
            if not 1 <= chosen <= self.max_days():
                raise InputError(f"days must be from 1 to {self.max_days()}")
            expires_at = now + chosen * DAY
        self._check_expiry(expires_at, now)
        request = GrantRequest(
            customer=checksum_address(customer),
            brand=brand,
            terms=terms,
            expires_at=expires_at,
            notice_hash=self.catalog.notice.hash_bytes,
            nonce=self._next_nonce(customer, brand),
            deadline=now + SIGNING_WINDOW,
        )
        return eip712.grant_typed_data(self.ledger.domain(), request)

    def revoke_typed_data(self, customer: str, brand: str) -> dict[str, Any]:
        customer = checksum_address(customer)
        brand = self._revocable_brand(customer, brand)
        request = RevokeRequest(customer, brand, self._next_nonce(customer, brand), self._now() + SIGNING_WINDOW)
        return eip712.revoke_typed_data(self.ledger.domain(), request)

    def max_days(self) -> int:
        """The longest grant in whole days: the contract's `MAX_GRANT_DURATION`, read from it."""
        return self.ledger.max_grant_duration() // DAY

    def _check_expiry(self, expires_at: int, now: int) -> None:
        if expires_at <= now:
            raise InputError("the grant's expiry is in the past")
        if expires_at > now + self.ledger.max_grant_duration():
            raise InputError(f"a grant may last at most {self.max_days()} days")

    def submit(self, principal: str, kind: str, message: object, signature: object) -> tuple[Submission, bool]:
        """Validate a signed message like the contract would, then store it in the outbox."""
        try:
            parsed_kind = Kind(kind)
        except ValueError as exc:
            raise InputError("kind must be 'grant' or 'revoke'") from exc
        sig = parse_signature(signature)
        request: GrantRequest | RevokeRequest
        if parsed_kind is Kind.GRANT:
            request = parse_grant_message(message)
            check_terms_rules(request.terms)
            self.catalog.check_terms(request.terms)
            self._check_notice(request.notice_hash)
            self._registered_brand(request.brand)
        else:
            request = parse_revoke_message(message)
        if request.customer.lower() != principal.lower():
            raise ForbiddenError("you can only submit messages for your own address")
        if isinstance(request, RevokeRequest):
            self._revocable_brand(request.customer, request.brand)
        existing = self.outbox.find_same(parsed_kind, request, sig)
        if existing is not None:  # the very same signed message again: idempotent, whatever its deadline
            return existing, False
        now = self._now()
        if request.deadline < now:
            raise InputError("the signed message's deadline has passed: fetch fresh typed data and sign again")
        if isinstance(request, GrantRequest):
            self._check_expiry(request.expires_at, now)
            digest = eip712.grant_digest(self.ledger.domain(), request)
        else:
            digest = eip712.revoke_digest(self.ledger.domain(), request)
        onchain = self.ledger.nonce_of(request.customer, request.brand)
        if request.nonce != onchain:
            raise ConflictError(f"nonce {request.nonce} is not the current one ({onchain}): fetch typed data again")
        if not signed_by(self.ledger, request.customer, digest, sig):
            raise InputError("the signature does not match the message and the customer's address")
        return self.outbox.enqueue(parsed_kind, request, sig)

    def grants(self, customer: str, pin: Any = "latest") -> list[GrantRow]:
        """The customer's grants to every registered brand, as the chain holds them at `pin`."""
        customer = checksum_address(customer)
        block = self.ledger.rpc.get_block(pin if isinstance(pin, int) else "latest")
        number, now = int(block["number"], 16), int(block["timestamp"], 16)
        rows = []
        for brand, name in self.brands.all().items():
            state = self.ledger.grant_of(customer, brand, number)
            if state.active_at(now):
                rows.append(
                    GrantRow(
                        brand,
                        name,
                        self.catalog.terms_names(state.terms),
                        self.catalog.category_names(state.categories),
                        self.catalog.purpose_names(state.purposes),
                        state.expires_at,
                        state.granted_at,
                        state.nonce,
                    )
                )
        return rows
