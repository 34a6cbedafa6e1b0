"""The durable outbox: accept signed messages, hand due ones to the worker, record outcomes.

`enqueue` commits before the API answers 202, so nothing accepted is lost. Re-submitting the very
same signed message returns the existing row (idempotent); a different message for a nonce that a
live (not rejected) row holds is a conflict; a rejected row frees its nonce. Only the worker moves
rows forward; nothing deletes them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.chain import eip712
from consent_ledger.chain.messages import parse_grant_message, parse_revoke_message
from consent_ledger.db.base import utc_now
from consent_ledger.domain import GrantRequest, RevokeRequest
from consent_ledger.errors import ConflictError, NotFoundError, UnavailableError
from consent_ledger.relayer.items import Item, Kind, Outcome, Status
from consent_ledger.relayer.models import OutboxItem

SUBMITTED_TIMEOUT = timedelta(seconds=30)  # a submitted row not settled by then is re-checked
MAX_BACKOFF = 60.0


@dataclass(frozen=True, slots=True)
class Submission:
    """What the API and customers see of an outbox row."""

    id: int
    kind: str
    customer: str
    brand: str
    nonce: int
    status: str
    reason: str | None
    tx_hash: str | None
    block_number: int | None
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "customer": self.customer,
            "brand": self.brand,
            "nonce": str(self.nonce),
            "status": self.status,
            "reason": self.reason,
            "tx_hash": self.tx_hash,
            "block_number": self.block_number,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def _submission(row: OutboxItem) -> Submission:
    return Submission(
        row.id,
        row.kind,
        row.customer,
        row.brand,
        int(row.nonce),
        row.status,
        row.reason,
        row.tx_hash,
        row.block_number,
        row.created_at,
        row.updated_at,
    )


def _message_json(request: GrantRequest | RevokeRequest) -> str:
    message = eip712.grant_message(request) if isinstance(request, GrantRequest) else eip712.revoke_message(request)
    return json.dumps(message, sort_keys=True, separators=(",", ":"))


def to_item(row: OutboxItem) -> Item:
    kind = Kind(row.kind)
    message = json.loads(row.message)
    request = parse_grant_message(message) if kind is Kind.GRANT else parse_revoke_message(message)
    return Item(row.id, kind, request, bytes.fromhex(row.signature[2:]))


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2.0 ** max(attempts - 1, 0), MAX_BACKOFF))


class Outbox:
    def __init__(self, session_factory: sessionmaker[Session], clock: Callable[[], datetime] = utc_now) -> None:
        self._sessions = session_factory
        self._clock = clock

    def enqueue(self, kind: Kind, request: GrantRequest | RevokeRequest, signature: bytes) -> tuple[Submission, bool]:
        """Store an accepted message; returns (submission, created)."""
        now = self._clock()
        message = _message_json(request)
        signature_hex = "0x" + signature.hex()
        row = OutboxItem(
            kind=kind.value,
            customer=request.customer,
            brand=request.brand,
            nonce=str(request.nonce),
            message=message,
            signature=signature_hex,
            status=Status.ACCEPTED.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        try:
            with self._sessions.begin() as session:
                session.add(row)
                session.flush()
                return _submission(row), True
        except IntegrityError:
            pass
        except SQLAlchemyError as error:
            raise UnavailableError(f"could not store the message: {type(error).__name__}") from error
        same = self.find_same(kind, request, signature)
        if same is not None:
            return same, False
        raise ConflictError(
            f"another message for {request.customer} / {request.brand} with nonce {request.nonce} is already "
            "accepted: wait for it to settle, then sign again with the next nonce"
        )

    def find_same(self, kind: Kind, request: GrantRequest | RevokeRequest, signature: bytes) -> Submission | None:
        """The stored row holding exactly this signed message, if any (a rejected one included: the
        same message again gets its row and the reason back instead of being relayed again)."""
        message, signature_hex = _message_json(request), "0x" + signature.hex()
        with self._sessions() as session:
            rows = session.scalars(
                select(OutboxItem)
                .where(
                    OutboxItem.customer == request.customer,
                    OutboxItem.brand == request.brand,
                    OutboxItem.nonce == str(request.nonce),
                )
                .order_by(OutboxItem.id.desc())
            )
            for row in rows:
                if row.kind == kind.value and row.message == message and row.signature == signature_hex:
                    return _submission(row)
            return None

    def get(self, item_id: int) -> Submission:
        with self._sessions() as session:
            row = session.get(OutboxItem, item_id)
            if row is None:
                raise NotFoundError(f"no submission {item_id}")
            return _submission(row)

    def list_for(self, customer: str, limit: int = 100) -> list[Submission]:
        with self._sessions() as session:
            rows = session.scalars(
                select(OutboxItem).where(OutboxItem.customer == customer).order_by(OutboxItem.id.desc()).limit(limit)
            )
            return [_submission(r) for r in rows]

    def has_pending(self, customer: str, brand: str) -> bool:
        with self._sessions() as session:
            row = session.scalars(
                select(OutboxItem.id).where(
                    OutboxItem.customer == customer,
                    OutboxItem.brand == brand,
                    OutboxItem.status.in_([Status.ACCEPTED.value, Status.SUBMITTED.value]),
                )
            ).first()
            return row is not None

    def counts(self) -> dict[str, int]:
        with self._sessions() as session:
            statuses = session.scalars(select(OutboxItem.status)).all()
        result: dict[str, int] = {}
        for status in statuses:
            result[status] = result.get(status, 0) + 1
        return result

    # ------------------------------------------------------------------ worker side

    def due(self, limit: int) -> list[Item]:
        """Accepted rows whose time has come, and submitted rows left unsettled (after a crash)."""
        now = self._clock()
        with self._sessions() as session:
            rows = session.scalars(
                select(OutboxItem)
                .where(
                    or_(OutboxItem.status == Status.ACCEPTED.value, OutboxItem.status == Status.SUBMITTED.value),
                    OutboxItem.next_attempt_at <= now,
                )
                .order_by(OutboxItem.id)
                .limit(limit)
            ).all()
            return [to_item(r) for r in rows]

    def mark_submitted(self, ids: Sequence[int]) -> None:
        now = self._clock()
        with self._sessions.begin() as session:
            for row in session.scalars(select(OutboxItem).where(OutboxItem.id.in_(ids))):
                row.status = Status.SUBMITTED.value
                row.attempts += 1
                row.next_attempt_at = now + SUBMITTED_TIMEOUT
                row.updated_at = now

    def record(self, outcomes: Sequence[Outcome]) -> None:
        now = self._clock()
        by_id = {o.item_id: o for o in outcomes}
        with self._sessions.begin() as session:
            for row in session.scalars(select(OutboxItem).where(OutboxItem.id.in_(list(by_id)))):
                outcome = by_id[row.id]
                row.status = outcome.status.value
                row.reason = outcome.reason
                row.tx_hash = outcome.tx_hash
                row.block_number = outcome.block_number
                row.block_hash = outcome.block_hash
                row.updated_at = now

    def recent_confirmations(self, above_block: int, limit: int = 500) -> list[tuple[Item, int, str]]:
        """Confirmed rows whose block is newer than `above_block`: (item, block number, block hash)."""
        with self._sessions() as session:
            rows = session.scalars(
                select(OutboxItem)
                .where(OutboxItem.status == Status.CONFIRMED.value, OutboxItem.block_number > above_block)
                .order_by(OutboxItem.block_number)
                .limit(limit)
            ).all()
            return [(to_item(r), int(r.block_number or 0), str(r.block_hash)) for r in rows]

    def requeue(self, ids: Sequence[int], reason: str) -> None:
        """Back to `accepted`: their confirming block left the chain and the message is not on it."""
        now = self._clock()
        with self._sessions.begin() as session:
            for row in session.scalars(select(OutboxItem).where(OutboxItem.id.in_(ids))):
                row.status = Status.ACCEPTED.value
                row.reason = reason[:200]
                row.tx_hash = row.block_hash = None
                row.block_number = None
                row.next_attempt_at = now
                row.updated_at = now

    def retry_later(self, ids: Sequence[int], error: str, max_attempts: int) -> None:
        """Back off after a transient failure; give up (rejected) after `max_attempts`."""
        now = self._clock()
        with self._sessions.begin() as session:
            for row in session.scalars(select(OutboxItem).where(OutboxItem.id.in_(ids))):
                row.updated_at = now
                if row.attempts >= max_attempts:
                    row.status = Status.REJECTED.value
                    row.reason = f"gave up after {row.attempts} attempts: {error}"[:200]
                else:
                    row.status = Status.ACCEPTED.value
                    row.next_attempt_at = now + backoff(row.attempts)
