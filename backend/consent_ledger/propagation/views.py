"""The notices the database knows of, matched as the verifier matches them (`audit.notices`): revocations
from the indexed chain events, erasures from the vault, recipients from the release receipts, and the
propagation steps from this package's index and the log's own leaves (the leaf is what is shown and
proved, never a copy)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.audit.leaf import decode_propagation
from consent_ledger.audit.models import LogLeaf
from consent_ledger.audit.notices import ERASED, OWED, REVOKED, Change, Notice, Receipt, Step, notices
from consent_ledger.indexer.models import REVOKED as REVOKED_KIND
from consent_ledger.indexer.models import ChainEvent
from consent_ledger.propagation.models import PropagationRecord
from consent_ledger.releases.models import ReleaseReceipt


def _revocations(session: Session, customer: str | None) -> list[Change]:
    query = select(
        ChainEvent.customer, ChainEvent.brand, ChainEvent.block_timestamp, ChainEvent.block_number, ChainEvent.tx_hash
    ).where(ChainEvent.kind == REVOKED_KIND)
    if customer is not None:
        query = query.where(ChainEvent.customer == customer)
    return [
        Change(REVOKED, str(c), int(at), str(b), int(n), str(tx))
        for c, b, at, n, tx in session.execute(query.order_by(ChainEvent.id))
    ]


def _receipts(session: Session, customer: str | None) -> list[Receipt]:
    """One per (customer, brand): the first block and time it received the customer's data (the rules only
    ask whether a release came before the change). min() keeps the column's type, so times come back UTC."""
    query = select(
        ReleaseReceipt.customer,
        ReleaseReceipt.brand,
        func.min(ReleaseReceipt.block_number),
        func.min(ReleaseReceipt.released_at),
    ).group_by(ReleaseReceipt.customer, ReleaseReceipt.brand)
    if customer is not None:
        query = query.where(ReleaseReceipt.customer == customer)
    return [Receipt(str(c), str(b), int(n), int(first.timestamp())) for c, b, n, first in session.execute(query)]


def _steps(session: Session, customer: str | None) -> list[Step]:
    query = (
        select(PropagationRecord.leaf_index, LogLeaf.leaf)
        .join(LogLeaf, LogLeaf.index == PropagationRecord.leaf_index)
        .where(PropagationRecord.event_type.in_(OWED))
    )
    if customer is not None:
        query = query.where(PropagationRecord.customer == customer)
    return [Step(int(index), decode_propagation(bytes(leaf))) for index, leaf in session.execute(query)]


def known_notices(
    sessions: sessionmaker[Session], erasures: list[tuple[str, datetime]], customer: str | None = None
) -> list[Notice]:
    """Every revocation and erasure owed to a brand or logged as told, of `customer` (checksummed) or of all.
    `erasures`: the vault's (customer, erased at)."""
    with sessions() as session:
        changes = _revocations(session, customer)
        receipts = _receipts(session, customer)
        steps = _steps(session, customer)
    changes += [Change(ERASED, c, int(at.timestamp())) for c, at in erasures if customer in (None, c)]
    return notices(changes, receipts, steps)
