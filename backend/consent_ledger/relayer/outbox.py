"""The durable outbox: accept signed messages, hand due ones to the worker, record outcomes.

`enqueue` commits before the API answers 202, so nothing accepted is lost. Re-submitting the very
same signed message returns the existing row (idempotent); a different message for a nonce that a
live (not rejected) row holds is a conflict; a rejected row frees its nonce. Only the worker moves
rows forward; nothing deletes them. Workers claim rows atomically, and every transition names the
state it expects (`Expect`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.db.base import INTEGER_MAX, utc_now
from consent_ledger.domain import GrantRequest, RevokeRequest
from consent_ledger.errors import ConflictError, NotFoundError, UnavailableError
from consent_ledger.relayer.expect import CLAIM_FOR, Expect, backoff, due
from consent_ledger.relayer.items import Item, Kind, Outcome, Status
from consent_ledger.relayer.models import OutboxItem
from consent_ledger.relayer.rows import Settled, Submission, item_of, message_json, submission, to_item

DOUBTFUL_REASONS = ("invalid_nonce",)
SUPERSEDED_BY_NEWER = "superseded by a newer message for the same nonce"


class Outbox:
    def __init__(self, session_factory: sessionmaker[Session], clock: Callable[[], datetime] = utc_now) -> None:
        self._sessions = session_factory
        self._clock = clock

    def enqueue(self, kind: Kind, request: GrantRequest | RevokeRequest, signature: bytes) -> tuple[Submission, bool]:
        """Store an accepted message; returns (submission, created)."""
        now = self._clock()
        message = message_json(request)
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
                return submission(row), True
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
        message, signature_hex = message_json(request), "0x" + signature.hex()
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
                    return submission(row)
            return None

    def get(self, item_id: int) -> Submission:
        if not 1 <= item_id <= INTEGER_MAX:  # no such row, and the database must not see the number
            raise NotFoundError(f"no submission {item_id}")
        with self._sessions() as session:
            row = session.get(OutboxItem, item_id)
            if row is None:
                raise NotFoundError(f"no submission {item_id}")
            return submission(row)

    def list_for(self, customer: str, limit: int = 100) -> list[Submission]:
        with self._sessions() as session:
            rows = session.scalars(
                select(OutboxItem).where(OutboxItem.customer == customer).order_by(OutboxItem.id.desc()).limit(limit)
            )
            return [submission(r) for r in rows]

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
    # Every transition below names the state it expects (compare-and-set): a row another worker
    # moved meanwhile is left alone, never overwritten.

    def has_due(self) -> bool:
        now = self._clock()
        with self._sessions() as session:
            return session.scalars(select(OutboxItem.id).where(*due(now)).limit(1)).first() is not None

    def claim(self, holder: str, limit: int, claim_for: timedelta = CLAIM_FOR) -> list[Item]:
        """Atomically take up to `limit` due rows for `holder`: one UPDATE ... RETURNING whose WHERE
        names the due state, so two workers never take the same row. On PostgreSQL the candidates are
        first locked with SELECT ... FOR UPDATE SKIP LOCKED in the same transaction (concurrent
        workers take disjoint rows without waiting; a LIMIT inside the UPDATE's subquery would not
        hold there, as the subquery may be re-scanned). A claim lapses after `claim_for`: a worker
        that died holding rows gives them back."""
        now = self._clock()
        candidates = select(OutboxItem.id).where(*due(now)).order_by(OutboxItem.id).limit(limit)
        with self._sessions.begin() as session:
            picked: Any = candidates.scalar_subquery()
            if session.get_bind().dialect.name == "postgresql":
                picked = list(session.scalars(candidates.with_for_update(skip_locked=True)))
                if not picked:
                    return []
            rows = session.execute(
                update(OutboxItem)
                .where(OutboxItem.id.in_(picked), *due(now))
                .values(claimed_by=holder, claimed_until=now + claim_for)
                .returning(OutboxItem.id, OutboxItem.kind, OutboxItem.message, OutboxItem.signature)
                .execution_options(synchronize_session=False)
            ).all()
        items = [item_of(i, kind, message, signature) for i, kind, message, signature in rows]
        return sorted(items, key=lambda item: item.id)

    def release(self, ids: Sequence[int], holder: str, reason: str, max_backoff: float) -> None:
        """Give claimed rows back, still accepted, with the reason they wait (shown to the customer)
        and a capped backoff: no transient cause ever gives a row up."""
        if not ids:
            return
        now = self._clock()
        with self._sessions.begin() as session:
            rows = session.scalars(
                select(OutboxItem)
                .where(
                    OutboxItem.id.in_(list(ids)),
                    OutboxItem.status == Status.ACCEPTED.value,
                    OutboxItem.claimed_by == holder,
                )
                .with_for_update()
            ).all()
            for row in rows:
                row.attempts += 1
                row.claimed_by = row.claimed_until = None
                row.reason = reason[:200]
                row.next_attempt_at = now + backoff(row.attempts, max_backoff)
                row.updated_at = now

    def attach(self, session: Session, ids: Sequence[int], holder: str, tx_id: int, tx_hash: str) -> None:
        """Inside the sender's transaction: these claimed rows are now carried by `tx_id`. Raises
        `ConflictError` (and so records and sends nothing) unless every one is still ours to send."""
        now = self._clock()
        moved = session.execute(
            update(OutboxItem)
            .where(
                OutboxItem.id.in_(list(ids)),
                OutboxItem.status == Status.ACCEPTED.value,
                OutboxItem.claimed_by == holder,
            )
            .values(
                status=Status.SUBMITTED.value,
                tx_id=tx_id,
                tx_hash=tx_hash,
                claimed_by=None,
                claimed_until=None,
                reason=None,
                attempts=OutboxItem.attempts + 1,
                updated_at=now,
            )
            .returning(OutboxItem.id)
            .execution_options(synchronize_session=False)
        ).all()
        if len(moved) != len(ids):
            raise ConflictError(f"{len(ids) - len(moved)} of {len(ids)} outbox rows were taken by another worker")

    def carried_by(self, tx_id: int, status: Status = Status.SUBMITTED) -> list[Item]:
        with self._sessions() as session:
            rows = session.scalars(
                select(OutboxItem)
                .where(OutboxItem.tx_id == tx_id, OutboxItem.status == status.value)
                .order_by(OutboxItem.id)
            ).all()
            return [to_item(r) for r in rows]

    def submitted_tx_ids(self) -> set[int]:
        """The transactions that carry submitted rows."""
        with self._sessions() as session:
            rows = session.scalars(
                select(OutboxItem.tx_id)
                .where(OutboxItem.status == Status.SUBMITTED.value, OutboxItem.tx_id.is_not(None))
                .distinct()
            )
            return {int(tx_id) for tx_id in rows if tx_id is not None}

    def settle(self, outcomes: Sequence[Outcome], expect: Expect) -> int:
        """Record the chain's verdict on rows still in the expected state; returns how many moved."""
        if not outcomes:
            return 0
        now = self._clock()
        moved = 0
        with self._sessions.begin() as session:
            for outcome in outcomes:
                result = session.execute(
                    update(OutboxItem)
                    .where(OutboxItem.id == outcome.item_id, *expect.clauses())
                    .values(
                        status=outcome.status.value,
                        reason=outcome.reason,
                        tx_hash=outcome.tx_hash,
                        block_number=outcome.block_number,
                        block_hash=outcome.block_hash,
                        claimed_by=None,
                        claimed_until=None,
                        updated_at=now,
                    )
                    .returning(OutboxItem.id)
                    .execution_options(synchronize_session=False)
                )
                moved += len(result.all())
        return moved

    def requeue(self, ids: Sequence[int], reason: str, expect: Expect) -> int:
        """Back to accepted, due now, free of any transaction: the chain shows the message did not land."""
        moved = 0
        now = self._clock()
        for item_id in ids:
            try:
                with self._sessions.begin() as session:
                    result = session.execute(
                        update(OutboxItem)
                        .where(OutboxItem.id == item_id, *expect.clauses())
                        .values(
                            status=Status.ACCEPTED.value,
                            reason=reason[:200],
                            tx_id=None,
                            tx_hash=None,
                            block_number=None,
                            block_hash=None,
                            claimed_by=None,
                            claimed_until=None,
                            next_attempt_at=now,
                            updated_at=now,
                        )
                        .returning(OutboxItem.id)
                        .execution_options(synchronize_session=False)
                    )
                    moved += len(result.all())
            except IntegrityError:  # a newer message holds this nonce now: the old one stays settled, for good
                with self._sessions.begin() as session:
                    session.execute(
                        update(OutboxItem)
                        .where(OutboxItem.id == item_id, *expect.clauses())
                        .values(reason=SUPERSEDED_BY_NEWER, updated_at=now)
                        .execution_options(synchronize_session=False)
                    )
        return moved

    def unsettle(self, tx_id: int, reason: str) -> int:
        """Rows settled by `tx_id`, whose block left the chain, wait for it to be mined again."""
        now = self._clock()
        with self._sessions.begin() as session:
            result = session.execute(
                update(OutboxItem)
                .where(
                    OutboxItem.tx_id == tx_id,
                    OutboxItem.status.in_([Status.CONFIRMED.value, Status.REJECTED.value]),
                )
                .values(
                    status=Status.SUBMITTED.value,
                    reason=reason[:200],
                    block_number=None,
                    block_hash=None,
                    updated_at=now,
                )
                .returning(OutboxItem.id)
                .execution_options(synchronize_session=False)
            )
            return len(result.all())

    def note_waiting(self, tx_id: int, reason: str | None) -> None:
        """Show why the transaction carrying these rows is not mined yet (None: nothing wrong)."""
        with self._sessions.begin() as session:
            session.execute(
                update(OutboxItem)
                .where(
                    OutboxItem.tx_id == tx_id,
                    OutboxItem.status == Status.SUBMITTED.value,
                    or_(OutboxItem.reason.is_(None), OutboxItem.reason != reason)
                    if reason is not None
                    else OutboxItem.reason.is_not(None),
                )
                .values(reason=reason, updated_at=self._clock())
                .execution_options(synchronize_session=False)
            )

    def recent_settled(self, above_block: int, limit: int = 500) -> list[Settled]:
        """Confirmed or rejected rows whose block is newer than `above_block`."""
        with self._sessions() as session:
            rows = session.scalars(
                select(OutboxItem)
                .where(
                    OutboxItem.status.in_([Status.CONFIRMED.value, Status.REJECTED.value]),
                    OutboxItem.block_number > above_block,
                )
                .order_by(OutboxItem.block_number)
                .limit(limit)
            ).all()
            return [
                Settled(to_item(r), Status(r.status), r.tx_id, int(r.block_number or 0), str(r.block_hash))
                for r in rows
            ]

    def doubtful_rejections(self, limit: int) -> list[Item]:
        """Rejected rows whose verdict did not come from the chain's own event for their nonce: an
        `invalid_nonce` (the nonce was used, but by what?) or an old give-up after transient failures."""
        with self._sessions() as session:
            rows = session.scalars(
                select(OutboxItem)
                .where(
                    OutboxItem.status == Status.REJECTED.value,
                    or_(OutboxItem.reason.in_(DOUBTFUL_REASONS), OutboxItem.reason.like("gave up after %")),
                )
                .order_by(OutboxItem.id)
                .limit(limit)
            ).all()
            return [to_item(r) for r in rows]
