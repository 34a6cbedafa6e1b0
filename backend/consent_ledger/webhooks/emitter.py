"""What makes webhook events: the indexed chain events, the chain's clock passing a grant's expiry, an
erasure, a release.

Chain events and expiries are read by the webhook worker (one leader) from the indexer's confirmed rows:
the scan position (`webhook_scan`: the last chain_events id read, and the chain time up to which
expiries were looked for) moves in the same transaction as the events it made, under a lock of its row,
so a crash repeats a scan and the unique event id keeps one event. A grant becomes consent.granted, or
consent.narrowed when it takes away something the grant it replaces still allowed; a revocation
consent.revoked. A grant expires when the chain's time (the timestamp of the newest indexed block) passes
its expiry and nothing replaced it before then: consent.expired, with no request needed.

Erasures and releases call in from their own transactions: `erased` makes data.erased for every brand
that ever received the customer's data (their release receipts) and no other; `released` one
data.released per receipt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from consent_ledger.addresses import checksum_address
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.db.base import utc_now
from consent_ledger.indexer.models import GRANTED as GRANTED_KIND
from consent_ledger.indexer.models import REVOKED as REVOKED_KIND
from consent_ledger.indexer.models import ChainEvent, IndexerCursor
from consent_ledger.indexer.rows import terms_json
from consent_ledger.releases.models import ReleaseReceipt
from consent_ledger.webhooks import events as ev
from consent_ledger.webhooks.events import NewEvent
from consent_ledger.webhooks.models import OutboxScan, WebhookEndpoint
from consent_ledger.webhooks.outbox import WebhookOutbox

SCAN_ID = 1
CHAIN_BATCH = 250  # chain_events rows read per scan: the first events go out while the next are made
EXPIRY_BATCH = 200  # distinct expiry times looked at per scan


def narrows(old_terms: str, new_terms: str) -> bool:
    """True when the new terms take away a purpose, or a category of a purpose, the old ones allowed."""
    new = {t["purpose"]: t["categories"] for t in terms_json(new_terms)}
    return any(new.get(t["purpose"], 0) & t["categories"] != t["categories"] for t in terms_json(old_terms))


def _grant_fields(row: ChainEvent) -> dict[str, Any]:
    return {
        "terms": terms_json(row.terms or ""),
        "categories": int(row.categories or 0),
        "purposes": int(row.purposes or 0),
        "expires_at": ev.iso(ev.unix_time(int(row.expires_at or 0))),
        "notice_hash": row.notice_hash,
        "nonce": row.nonce,
    }


class Emitter:
    def __init__(
        self, outbox: WebhookOutbox, chain_id: int, rpc: RpcClient, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.outbox = outbox
        self.chain_id = chain_id
        self.rpc = rpc
        self._clock = clock
        self._block_time: tuple[int, int] | None = None  # (block number, its timestamp): one look-up per block

    # ------------------------------------------------------------ from the vault and the release service

    def erased(self, session: Session, customer: str, erased_at: datetime) -> int:
        """data.erased to every brand that received `customer`'s data, in the erasure's transaction."""
        address = checksum_address(customer)
        brands = session.scalars(
            select(ReleaseReceipt.brand).where(ReleaseReceipt.customer == address).distinct()
        ).all()
        made = [
            NewEvent(
                ev.ERASED,
                ev.erasure_cause(address, brand, erased_at),
                address,
                brand,
                erased_at,
                extra={"erased_at": ev.iso(erased_at)},
            )
            for brand in sorted(brands)
        ]
        return self.outbox.emit(session, made, self._clock())

    def released(self, session: Session, receipts: Sequence[dict[str, Any]]) -> int:
        """data.released per receipt (release service rows), in the transaction that stores them."""
        made = [
            NewEvent(
                ev.RELEASED,
                ev.release_cause(str(r["id"])),
                str(r["customer"]),
                str(r["brand"]),
                r["released_at"],
                block_number=int(r["block_number"]),
                extra={
                    "receipt_id": str(r["id"]),
                    "request_id": str(r["request_id"]),
                    "categories": int(r["categories"]),
                    "purposes": int(r["purposes"]),
                    "block_hash": str(r["block_hash"]),
                },
            )
            for r in receipts
        ]
        return self.outbox.emit(session, made, self._clock())

    # ------------------------------------------------------------ from the indexed chain (the worker)

    def scan(self, session: Session) -> int:
        """One scan of new chain events and of passed expiries, in `session`'s transaction (the caller
        commits); returns how many rows it looked at (0: nothing new)."""
        position = self._position(session)
        wanted: dict[str, set[str]] = {}  # per brand with an endpoint: the event types any of them takes
        for brand, types in session.execute(select(WebhookEndpoint.brand, WebhookEndpoint.event_types)):
            wanted.setdefault(brand, set()).update(types.split())
        seen = self._scan_chain(session, position, wanted)
        seen += self._scan_expiries(session, position, {b for b, types in wanted.items() if ev.EXPIRED in types})
        return seen

    def _position(self, session: Session) -> OutboxScan:
        query = select(OutboxScan).where(OutboxScan.id == SCAN_ID).with_for_update()
        row = session.scalar(query)
        if row is None:
            session.add(OutboxScan(id=SCAN_ID, chain_event_id=0, expired_until=0))
            session.flush()
            row = session.scalar(query)
        assert row is not None  # noqa: S101 -- just written
        return row

    def _scan_chain(self, session: Session, position: OutboxScan, wanted: dict[str, set[str]]) -> int:
        """Events of the rows after the position; none is made for a row whose brand has no endpoint that
        takes its type (the outbox would not store it), which spares a grant's look-up of its predecessor."""
        rows = session.scalars(
            select(ChainEvent).where(ChainEvent.id > position.chain_event_id).order_by(ChainEvent.id).limit(CHAIN_BATCH)
        ).all()
        if not rows:
            return 0
        kinds = {GRANTED_KIND: {ev.GRANTED, ev.NARROWED}, REVOKED_KIND: {ev.REVOKED}}
        made = [
            self._chain_event(session, row)
            for row in rows
            if row.customer is not None and kinds.get(row.kind, set()) & wanted.get(row.brand or "", set())
        ]
        self.outbox.emit(session, made, self._clock())
        position.chain_event_id = rows[-1].id
        return len(rows)

    def _chain_event(self, session: Session, row: ChainEvent) -> NewEvent:
        assert row.customer is not None  # noqa: S101 -- filtered by the caller
        assert row.brand is not None  # noqa: S101
        cause = ev.chain_cause(self.chain_id, row.tx_hash, row.log_index, row.brand)
        common: dict[str, Any] = {
            "occurred_at": ev.unix_time(row.block_timestamp),
            "block_number": row.block_number,
            "tx_hash": row.tx_hash,
        }
        if row.kind == REVOKED_KIND:
            return NewEvent(ev.REVOKED, cause, row.customer, row.brand, extra={"nonce": row.nonce}, **common)
        before = session.scalar(
            select(ChainEvent)
            .where(
                ChainEvent.customer == row.customer,
                ChainEvent.brand == row.brand,
                ChainEvent.kind.in_((GRANTED_KIND, REVOKED_KIND)),
                ChainEvent.id < row.id,
            )
            .order_by(ChainEvent.id.desc())
            .limit(1)
        )
        in_force = (
            before is not None
            and before.kind == GRANTED_KIND
            and int(before.expires_at or 0) > row.block_timestamp
            and narrows(before.terms or "", row.terms or "")
        )
        kind = ev.NARROWED if in_force else ev.GRANTED
        return NewEvent(kind, cause, row.customer, row.brand, extra=_grant_fields(row), **common)

    def chain_time(self, session: Session) -> int | None:
        """The timestamp of the newest indexed block (None before the indexer's first chunk)."""
        cursor = session.scalar(select(IndexerCursor.block_number).where(IndexerCursor.id == 1))
        if cursor is None:
            return None
        number = int(cursor)
        if self._block_time is None or self._block_time[0] != number:
            self._block_time = (number, int(self.rpc.get_block(number)["timestamp"], 16))
        return self._block_time[1]

    def _scan_expiries(self, session: Session, position: OutboxScan, brands: set[str]) -> int:
        now = self.chain_time(session)
        if now is None or now <= position.expired_until:
            return 0
        low = position.expired_until
        times = session.scalars(
            select(ChainEvent.expires_at)
            .where(ChainEvent.kind == GRANTED_KIND, ChainEvent.expires_at > low, ChainEvent.expires_at <= now)
            .distinct()
            .order_by(ChainEvent.expires_at)
            .limit(EXPIRY_BATCH)
        ).all()
        high = int(times[-1] or now) if len(times) == EXPIRY_BATCH else now
        grants = session.scalars(
            select(ChainEvent).where(
                ChainEvent.kind == GRANTED_KIND,
                ChainEvent.expires_at > low,
                ChainEvent.expires_at <= high,
                ChainEvent.brand.in_(brands),
            )
        ).all()
        made = [self._expired(row) for row in grants if not self._replaced(session, row)]
        self.outbox.emit(session, made, self._clock())
        position.expired_until = high
        return len(times)

    def _replaced(self, session: Session, grant: ChainEvent) -> bool:
        """Whether a later grant or revocation of the pair came before the grant's expiry."""
        later = session.scalar(
            select(ChainEvent.id)
            .where(
                and_(
                    ChainEvent.customer == grant.customer,
                    ChainEvent.brand == grant.brand,
                    ChainEvent.kind.in_((GRANTED_KIND, REVOKED_KIND)),
                    ChainEvent.id > grant.id,
                    ChainEvent.block_timestamp < int(grant.expires_at or 0),
                )
            )
            .limit(1)
        )
        return later is not None

    def _expired(self, row: ChainEvent) -> NewEvent:
        assert row.customer is not None  # noqa: S101 -- grants name both
        assert row.brand is not None  # noqa: S101
        expires = int(row.expires_at or 0)
        return NewEvent(
            ev.EXPIRED,
            ev.expiry_cause(row.customer, row.brand, row.nonce or "", expires),
            row.customer,
            row.brand,
            ev.unix_time(expires),
            block_number=row.block_number,
            tx_hash=row.tx_hash,
            extra=_grant_fields(row),
        )
