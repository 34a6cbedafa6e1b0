"""Releases: the brand asks, the chain decides at one pinned block, the vault hands over only the
granted fields, and a receipt per released record is committed before anything is returned.

Failure anywhere (chain, vault, receipt commit) raises; the caller answers 503 and nothing that was
decrypted leaves the process.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.addresses import checksum_address
from consent_ledger.audit.leaf import Leaf, fields_digest
from consent_ledger.audit.log import AccessLog
from consent_ledger.catalog import Catalog
from consent_ledger.db.base import utc_now
from consent_ledger.errors import InputError, UnavailableError
from consent_ledger.releases.models import ReleaseReceipt
from consent_ledger.services.gatekeeper import BlockPin, Gatekeeper
from consent_ledger.vault import Vault
from consent_ledger.vault.models import Customer


@dataclass(frozen=True)
class Released:
    customer: str
    receipt_id: str
    categories: list[str]
    fields: dict[str, str]


@dataclass(frozen=True)
class ReleaseResult:
    request_id: str
    brand: str
    purpose: str
    pin: BlockPin
    released: list[Released] = field(default_factory=list)
    withheld: dict[str, str] = field(default_factory=dict)  # customer -> reason

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "brand": self.brand,
            "purpose": self.purpose,
            "block": {"number": self.pin.number, "hash": self.pin.hash, "timestamp": self.pin.timestamp},
            "released": [
                {"customer": r.customer, "receipt_id": r.receipt_id, "categories": r.categories, "fields": r.fields}
                for r in self.released
            ],
            "withheld": [{"customer": c, "reason": reason} for c, reason in self.withheld.items()],
        }


def receipt_json(row: ReleaseReceipt, catalog: Catalog) -> dict[str, Any]:
    return {
        "receipt_id": row.id,
        "request_id": row.request_id,
        "customer": row.customer,
        "brand": row.brand,
        "categories": catalog.category_names(int(row.categories)),
        "purposes": catalog.purpose_names(int(row.purposes)),
        "fields": json.loads(row.fields),
        "block": {"number": row.block_number, "hash": row.block_hash},
        "released_at": row.released_at.isoformat(),
    }


class ReleaseService:
    def __init__(
        self,
        gatekeeper: Gatekeeper,
        vault: Vault,
        session_factory: sessionmaker[Session],
        catalog: Catalog,
        log: AccessLog,
        clock: Callable[[], datetime] = utc_now,
        on_released: Callable[[Session, list[dict[str, Any]]], object] | None = None,
    ) -> None:
        self._on_released = on_released
        self.log = log
        self.gatekeeper = gatekeeper
        self.vault = vault
        self._sessions = session_factory
        self.catalog = catalog
        self._clock = clock

    def release(
        self, brand: str, customers: Sequence[str], categories: Sequence[str], purpose: str, limit: int
    ) -> ReleaseResult:
        brand = checksum_address(brand)
        addresses = list(dict.fromkeys(checksum_address(c) for c in customers))
        if not addresses:
            raise InputError("name at least one customer")
        if len(addresses) > limit:
            raise InputError(f"{len(addresses)} customers in one release; the limit is {limit}")
        category_mask = self.catalog.category_mask(categories)
        purpose_mask = self.catalog.purpose_mask([purpose])
        decision = self.gatekeeper.decide_release(brand, addresses, category_mask, purpose_mask)
        allowed = {c: set(self.catalog.category_names(m)) for c, m in decision.granted.items() if m}
        try:
            data = self.vault.release_records(addresses, allowed)
        except SQLAlchemyError as error:
            raise UnavailableError(f"the vault could not be read: {type(error).__name__}") from error
        result = ReleaseResult(str(uuid.uuid4()), brand, purpose, decision.pin)
        receipts: list[dict[str, Any]] = []
        now = self._clock().replace(microsecond=0)  # the leaf records whole seconds
        for customer in addresses:
            if customer not in allowed:
                result.withheld[customer] = "no grant covers these categories for this purpose"
                continue
            fields = data.get(customer, {})
            if not fields:
                result.withheld[customer] = "granted, but no data held for these categories"
                continue
            released_categories = sorted({value.category for value in fields.values()})
            receipt_id = str(uuid.uuid4())
            receipts.append(
                {
                    "id": receipt_id,
                    "request_id": result.request_id,
                    "customer": customer,
                    "brand": brand,
                    "categories": self.catalog.category_mask(released_categories),
                    "purposes": purpose_mask,
                    "fields": json.dumps(sorted(fields)),
                    "block_number": decision.pin.number,
                    "block_hash": decision.pin.hash,
                    "released_at": now,
                }
            )
            values = {name: value.value for name, value in fields.items()}
            result.released.append(Released(customer, receipt_id, released_categories, values))
        self._commit(receipts)
        return result

    def _commit(self, receipts: list[dict[str, Any]]) -> None:
        """All receipts of a request and their access-log leaves in one transaction."""
        if not receipts:
            return
        leaves = [
            Leaf(
                receipt_id=r["id"],
                customer=r["customer"],
                brand=r["brand"],
                categories=int(r["categories"]),
                purposes=int(r["purposes"]),
                block_number=r["block_number"],
                block_hash=r["block_hash"],
                released_at=int(r["released_at"].timestamp()),
                fields_hash=fields_digest(json.loads(r["fields"])),
            )
            for r in receipts
        ]
        try:
            with self._sessions() as session:
                session.execute(insert(ReleaseReceipt), receipts)
                if self._on_released is not None:  # data.released webhooks, committed with the receipts
                    self._on_released(session, receipts)
                self.log.append_and_commit(session, leaves)
        except SQLAlchemyError as error:
            raise UnavailableError(f"release receipts could not be recorded: {type(error).__name__}") from error

    def receipts_for(self, *, brand: str | None = None, customer: str | None = None, limit: int = 100) -> list[Any]:
        query = select(ReleaseReceipt).order_by(ReleaseReceipt.released_at.desc(), ReleaseReceipt.id).limit(limit)
        if brand is not None:
            query = query.where(ReleaseReceipt.brand == checksum_address(brand))
        if customer is not None:
            query = query.where(ReleaseReceipt.customer == checksum_address(customer))
        with self._sessions() as session:
            return [receipt_json(r, self.catalog) for r in session.scalars(query)]

    def receipts_page(self, brand: str, limit: int, after: str | None) -> tuple[list[Any], str | None]:
        """One page of the brand's receipts, newest first, and the cursor of the next page (None on the last):
        keyset pagination on (released_at, id), so receipts made meanwhile shift no page."""
        query = select(ReleaseReceipt).where(ReleaseReceipt.brand == checksum_address(brand))
        if after is not None:
            at, receipt_id = _parse_cursor(after)
            query = query.where(
                or_(
                    ReleaseReceipt.released_at < at,
                    and_(ReleaseReceipt.released_at == at, ReleaseReceipt.id > receipt_id),
                )
            )
        query = query.order_by(ReleaseReceipt.released_at.desc(), ReleaseReceipt.id).limit(limit + 1)
        with self._sessions() as session:
            rows = list(session.scalars(query))
        page = rows[:limit]
        following = _cursor(page[-1]) if len(rows) > limit else None
        return [receipt_json(r, self.catalog) for r in page], following

    def segment(self, brand: str, categories: Sequence[str], purpose: str) -> tuple[BlockPin, list[str]]:
        """Customers in the vault who allow `brand` all `categories` for `purpose`, checked at one block."""
        brand = checksum_address(brand)
        category_mask = self.catalog.category_mask(categories)
        purpose_mask = self.catalog.purpose_mask([purpose])
        with self._sessions() as session:
            candidates = list(
                session.scalars(select(Customer.address).where(Customer.erased_at.is_(None)).order_by(Customer.address))
            )
        result = self.gatekeeper.check(brand, [(c, category_mask, purpose_mask) for c in candidates])
        return result.pin, [c for c, ok in zip(candidates, result.answers, strict=True) if ok]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(r"([0-9]{1,17})_([0-9a-f-]{36})")


def _cursor(row: ReleaseReceipt) -> str:
    return f"{(row.released_at - _EPOCH) // timedelta(microseconds=1)}_{row.id}"


def _parse_cursor(text: str) -> tuple[datetime, str]:
    match = _CURSOR.fullmatch(text)
    if match is None:
        raise InputError("`after` is not a cursor: pass back the `next` of the previous page")
    return _EPOCH + timedelta(microseconds=int(match[1])), match[2]
