"""History views: the indexed contract events and the release receipts, merged in chain order.

Order: by block; within a block the contract's events by log index, then the releases decided at
that block (a release is decided after its block was mined) by release time and receipt id. A page
ends at an item, wherever it sits: `next` names the last item returned (an opaque cursor; pass it
back as `after`), so no page skips or repeats an item, however many one block holds.

Every contract event carries `sender`, the `from` of the transaction that emitted it. That matters
for rejections: anyone can relay junk batch items naming any customer and brand, so a rejection
says nothing about the customer unless a custodian (our relayer) or the customer sent it. Auditors
see every rejection with its sender; a customer's own view keeps only those.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.addresses import checksum_address
from consent_ledger.catalog import Catalog
from consent_ledger.db.base import INTEGER_MAX
from consent_ledger.domain import terms_from_json
from consent_ledger.errors import InputError
from consent_ledger.indexer import queries
from consent_ledger.releases.models import ReleaseReceipt

EVENT_KINDS = ("granted", "revoked", "grant_rejected", "revoke_rejected", "anchored")
KINDS = (*EVENT_KINDS, "released")
MAX_PAGE = 1_000
EVENT, RELEASE, BLOCK_START = 0, 1, -1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_CURSOR = re.compile(r"(\d{1,19})(?:\.e(\d{1,10})|\.r(\d{1,19})\.([0-9a-f-]{36}))?")
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True, order=True)
class Position:
    """Where an item sits in the history. `group` BLOCK_START is the start of `block` (before all of
    its items): the cursor a bare block number means."""

    block: int
    group: int
    log_index: int = 0
    released_us: int = 0
    receipt_id: str = ""

    def encode(self) -> str:
        if self.group == EVENT:
            return f"{self.block}.e{self.log_index}"
        if self.group == RELEASE:
            return f"{self.block}.r{self.released_us}.{self.receipt_id}"
        return str(self.block)

    @property
    def released_at(self) -> datetime:
        return _EPOCH + self.released_us * _MICROSECOND


def parse_cursor(text: str) -> Position:
    """`next` of an earlier page, or a bare block number (start there)."""
    found = _CURSOR.fullmatch(text.strip())
    if found is None:
        raise InputError("after must be the `next` value of a previous page (or a block number)")
    block, log_index, released_us, receipt_id = found.groups()
    numbers = [int(block), int(log_index or 0), int(released_us or 0)]
    if any(n > _INT64_MAX for n in numbers) or numbers[1] > INTEGER_MAX:  # the columns' ranges
        raise InputError("after is out of range: pass back the `next` value of a previous page")
    if log_index is not None:
        return Position(numbers[0], EVENT, log_index=numbers[1])
    if receipt_id is not None:
        try:
            uuid.UUID(receipt_id)
        except ValueError as exc:
            raise InputError("after names no release receipt: pass back a `next` value") from exc
        return Position(numbers[0], RELEASE, released_us=numbers[2], receipt_id=receipt_id)
    return Position(numbers[0], BLOCK_START)


def _released_us(at: datetime) -> int:
    return (at - _EPOCH) // _MICROSECOND


class HistoryView:
    def __init__(self, session_factory: sessionmaker[Session], catalog: Catalog) -> None:
        self._sessions = session_factory
        self.catalog = catalog

    # ------------------------------------------------------------------ items

    def _event_item(self, row: dict[str, Any]) -> dict[str, Any]:
        item = {
            "id": f"event-{row['id']}",
            "kind": row["kind"],
            "block_number": row["block_number"],
            "tx_hash": row["tx_hash"],
            "log_index": row["log_index"],
            "timestamp": datetime.fromtimestamp(row["block_timestamp"], UTC).isoformat(),
            "customer": row["customer"],
            "brand": row["brand"],
            "sender": row["sender"],
        }
        if row["categories"] is not None:
            item["categories"] = self.catalog.category_names(int(row["categories"]))
            item["purposes"] = self.catalog.purpose_names(int(row["purposes"]))
        if row.get("terms") is not None:
            item["terms"] = self.catalog.terms_names(terms_from_json(row["terms"]))
        for key in ("expires_at", "notice_hash", "nonce", "reason", "custodian", "root", "size"):
            if row.get(key) is not None:
                item[key] = row[key]
        return item

    def _release_item(self, r: ReleaseReceipt) -> dict[str, Any]:
        return {
            "id": r.id,
            "kind": "released",
            "block_number": r.block_number,
            "block_hash": r.block_hash,
            "timestamp": r.released_at.isoformat(),
            "customer": r.customer,
            "brand": r.brand,
            "categories": self.catalog.category_names(int(r.categories)),
            "purposes": self.catalog.purpose_names(int(r.purposes)),
            "fields": json.loads(r.fields),
        }

    # ------------------------------------------------------------------ reading

    def _events(
        self,
        customer: str | None,
        brand: str | None,
        kinds: list[str],
        start: Position | None,
        limit: int,
        rejections_from: Collection[str] | None,
    ) -> list[tuple[Position, dict[str, Any]]]:
        from_block, after = None, None
        if start is not None and start.group == BLOCK_START:
            from_block = start.block
        elif start is not None and start.group == EVENT:
            after = (start.block, start.log_index)
        elif start is not None:  # after a release: every event of its block came before it
            from_block = start.block + 1
        rows = queries.history(
            self._sessions,
            customer=customer,
            brand=brand,
            kinds=kinds,
            from_block=from_block,
            after=after,
            limit=limit,
            rejections_from=rejections_from,
        )
        return [(Position(r["block_number"], EVENT, log_index=r["log_index"]), self._event_item(r)) for r in rows]

    def _releases(
        self, customer: str | None, brand: str | None, start: Position | None, limit: int
    ) -> list[tuple[Position, dict[str, Any]]]:
        if start is not None and start.block > INTEGER_MAX:  # past the receipts' column: none can follow
            return []
        query = select(ReleaseReceipt).order_by(
            ReleaseReceipt.block_number, ReleaseReceipt.released_at, ReleaseReceipt.id
        )
        if customer:
            query = query.where(ReleaseReceipt.customer == customer)
        if brand:
            query = query.where(ReleaseReceipt.brand == brand)
        if start is not None and start.group != RELEASE:  # releases of the block come after its events
            query = query.where(ReleaseReceipt.block_number >= start.block)
        elif start is not None:
            at = start.released_at
            query = query.where(
                or_(
                    ReleaseReceipt.block_number > start.block,
                    and_(
                        ReleaseReceipt.block_number == start.block,
                        or_(
                            ReleaseReceipt.released_at > at,
                            and_(ReleaseReceipt.released_at == at, ReleaseReceipt.id > start.receipt_id),
                        ),
                    ),
                )
            )
        with self._sessions() as session:
            receipts = list(session.scalars(query.limit(limit)))
        return [
            (
                Position(r.block_number, RELEASE, released_us=_released_us(r.released_at), receipt_id=r.id),
                self._release_item(r),
            )
            for r in receipts
        ]

    def page(
        self,
        *,
        customer: str | None = None,
        brand: str | None = None,
        kinds: Sequence[str] | None = None,
        after: str | None = None,
        limit: int = 100,
        rejections_from: Collection[str] | None = None,
    ) -> dict[str, Any]:
        """Up to `limit` items after the cursor `after`, and `next` (None on the last page).
        `rejections_from` keeps only rejections sent by those addresses (None: all)."""
        if not 1 <= limit <= MAX_PAGE:
            raise InputError(f"limit must be from 1 to {MAX_PAGE}")
        customer = checksum_address(customer) if customer else None
        brand = checksum_address(brand) if brand else None
        wanted = set(kinds or KINDS)
        if wanted - set(KINDS):
            raise InputError(f"unknown kinds {sorted(wanted - set(KINDS))}: use some of {list(KINDS)}")
        start = parse_cursor(after) if after else None
        found: list[tuple[Position, dict[str, Any]]] = []
        event_kinds = sorted(wanted & set(EVENT_KINDS))
        if event_kinds:
            found += self._events(customer, brand, event_kinds, start, limit + 1, rejections_from)
        if "released" in wanted:
            found += self._releases(customer, brand, start, limit + 1)
        found.sort(key=lambda pair: pair[0])
        page = found[:limit]
        more = len(found) > limit
        return {"items": [item for _, item in page], "next": page[-1][0].encode() if more else None}

    def everything(self, **filters: Any) -> list[dict[str, Any]]:
        """Every item matching `filters` (as `page` takes them), page after page."""
        items: list[dict[str, Any]] = []
        after = None
        while True:
            page = self.page(after=after, limit=MAX_PAGE, **filters)
            items += page["items"]
            after = page["next"]
            if after is None:
                return items
