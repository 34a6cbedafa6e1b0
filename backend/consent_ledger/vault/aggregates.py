"""The counting records and the read side of aggregates: each write's counting record rewritten in the
write's transaction (`rewrite`, called by the vault), records built for data stored before them
(`rebuild_counts`, at start-up), and the vault's data, still sealed, for the customers an insight query may
count, opened in memory only to be counted (never returned to a brand).

Two paths: the counting records (`sealed_counts` + `count_values`: one small row per customer, only the
counted categories of vault/counting.py) and, for any other category, the field rows themselves
(`sealed_holders` + `open_for_counting`, under each customer's data key). `Vault.counting` is the one
instance; the caller checks each customer's consent on-chain before opening anything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.errors import InputError
from consent_ledger.vault.counting import COUNTED_CATEGORIES, COUNTS_VERSION, decode_values, is_counted, seal_record
from consent_ledger.vault.crypto import DataKey, MasterKey, SegmentOpener
from consent_ledger.vault.models import Customer, CustomerField, CustomerKey
from consent_ledger.vault.queries import (
    SEALED_COLUMNS,
    CountRow,
    KeyRow,
    forget_old_counts,
    lock_customers,
    missing_counts,
    read_counts,
    read_fields,
    write_counts,
)

COUNT_CHUNK = 5_000  # counting records per chunk read by sealed_counts
REBUILD_BATCH = 1000  # customers per transaction of rebuild_counts


@dataclass(frozen=True, slots=True)
class SealedHolder:
    """A customer's fields in some categories, still encrypted: (field, category, nonce, ciphertext) each,
    with the customer's wrapped data key (a `KeyRow`)."""

    customer: str
    wrapped_key: bytes
    key_version: int
    master_key_id: str
    fields: list[tuple[str, str, bytes, bytes]]


class VaultCounting:
    """The counting records kept up to date (`rewrite`, `rebuild_counts`), the candidates of an aggregate,
    sealed, and their opening for counting."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        master_key: MasterKey,
        unwrap: Callable[[KeyRow], DataKey],
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = session_factory
        self._master = master_key
        self._unwrap = unwrap
        self._clock = clock

    def rewrite(
        self,
        session: Session,
        keys: Mapping[str, DataKey],
        written: Mapping[str, Mapping[str, tuple[str, str]]],
        held: Mapping[str, Mapping[str, str]],
    ) -> None:
        """Rewrite the counting record of each customer whose counted values this write changed (a field
        written in a counted category, or moved out of one), from all their fields as they now are: the
        written values, and the stored ones this write kept (read back and decrypted in memory)."""
        touched = [
            address
            for address, fields in written.items()
            if any(
                is_counted(category) or is_counted(held[address].get(name, ""))
                for name, (category, _) in fields.items()
            )
        ]
        values: dict[str, dict[str, dict[str, str]]] = {address: {} for address in touched}  # category -> field
        for address in touched:
            for name, (category, value) in written[address].items():
                if is_counted(category):
                    values[address].setdefault(category, {})[name] = value
        kept = [a for a in touched if any(is_counted(c) and n not in written[a] for n, c in held[a].items())]
        if kept:
            for f, _ in read_fields(session, kept, COUNTED_CATEGORIES.keys()):
                if f.field not in written[f.customer]:
                    plain = keys[f.customer].decrypt(f.field, f.nonce, f.ciphertext, category=f.category)
                    values[f.customer].setdefault(f.category, {})[f.field] = plain
        records: list[dict[str, Any]] = []
        for address in touched:
            by_category = {c: [fields[n] for n in sorted(fields)] for c, fields in values[address].items()}
            sealed = seal_record(self._master, address, by_category)
            records.append({"customer": address, "counts_version": COUNTS_VERSION, **sealed})
        if records:
            write_counts(session, records)

    def rebuild_counts(self, batch: int = REBUILD_BATCH) -> int:
        """Build the counting record of every customer holding counted fields without a current one (stored
        before migration 0017_vault_counts, or under an older `COUNTS_VERSION`, whose records go first), from
        their fields decrypted in memory, `batch` customers a transaction. Returns how many were built; 0 once
        every record exists (the start-up check is then one query). `TamperedError` as on every read."""
        with self._sessions.begin() as session:
            forget_old_counts(session)
        built, after = 0, ""
        while True:
            with self._sessions.begin() as session:
                missing = missing_counts(session, after, batch)
                if not missing:
                    return built
                after = missing[-1]
                now = self._clock()
                live = [address for address, erased_at in lock_customers(session, missing, now) if erased_at is None]
                keys: dict[str, DataKey] = {}
                written: dict[str, dict[str, tuple[str, str]]] = {address: {} for address in live}
                for f, key_row in read_fields(session, live, COUNTED_CATEGORIES.keys()):
                    key = keys.get(f.customer)
                    if key is None:
                        key = keys[f.customer] = self._unwrap(key_row)
                    plain = key.decrypt(f.field, f.nonce, f.ciphertext, category=f.category)
                    written[f.customer][f.field] = (f.category, plain)
                self.rewrite(session, keys, written, {address: {} for address in live})
                built += len(live)

    def sealed_holders(self, categories: AbstractSet[str]) -> list[SealedHolder]:
        """Every customer, not erased, holding at least one field in `categories`, with those fields still
        encrypted and the wrapped data key: the candidates of an aggregate, in ONE query of only the needed
        columns (plain rows, no ORM objects). Decrypts nothing; `open_for_counting` opens one holder."""
        query = (
            select(*SEALED_COLUMNS)
            .join(CustomerKey, CustomerKey.customer == CustomerField.customer)
            .join(Customer, Customer.address == CustomerField.customer)
            .where(CustomerField.category.in_(sorted(categories)), Customer.erased_at.is_(None))
        )
        holders: dict[str, SealedHolder] = {}
        with self._sessions() as session:
            rows = session.connection().execute(query)  # Core rows: no ORM result processing
            for customer, field, category, nonce, ciphertext, wrapped, version, master_id in rows:
                holder = holders.get(customer)
                if holder is None:
                    holder = holders[customer] = SealedHolder(customer, wrapped, version, master_id, [])
                holder.fields.append((field, category, nonce, ciphertext))
        return list(holders.values())

    def counts_cover(self, categories: Iterable[str]) -> bool:
        """True when every one of `categories` is kept in the counting records (`sealed_counts` can answer)."""
        return all(is_counted(category) for category in categories)

    def sealed_counts(self, categories: Sequence[str], chunk: int = COUNT_CHUNK) -> Generator[list[CountRow]]:
        """The counting record of every customer, not erased, holding values in at least one of `categories`
        (all counted: see `counts_cover`), only those categories' columns, still sealed, with the master key
        that sealed them: the candidates of an aggregate, one small row each, in ONE query, `chunk` rows at a
        time as they are read (the caller can ask the chain about a chunk while the next is read). Decrypts
        nothing; `count_values` opens them, with the same `categories`."""
        if not self.counts_cover(categories):
            raise InputError(f"not every one of {sorted(categories)} is a counted category")
        with self._sessions() as session:
            yield from read_counts(session, categories, chunk)

    def count_values(self, holders: Iterable[CountRow], categories: Sequence[str]) -> list[Counter[tuple[str, ...]]]:
        """Per category of `categories`, how many of `holders` (read by `sealed_counts(categories)`; the caller
        checked their consent) hold each distinct list of values in it (none: not counted), decrypted in
        memory only to be counted: only those categories' segments are opened, never the others; each
        distinct plaintext is parsed once. `TamperedError` as on every read."""
        counted: list[Counter[tuple[str, ...]]] = [Counter() for _ in categories]
        for values_count, plain_count in zip(
            counted, SegmentOpener(self._master, categories).count(holders), strict=True
        ):
            for plain, times in plain_count.items():
                values_count[decode_values(plain)] += times
        return counted

    def open_for_counting(self, holder: SealedHolder) -> dict[str, list[str]]:
        """`{category: [values]}` of one holder whose consent the caller checked, decrypted in memory only to
        be counted (the aggregate path: never returned to a brand). `TamperedError` as on every read."""
        key = self._unwrap(holder)
        values: dict[str, list[str]] = {}
        for field, category, nonce, ciphertext in holder.fields:
            values.setdefault(category, []).append(key.decrypt(field, nonce, ciphertext, category=category))
        return values
