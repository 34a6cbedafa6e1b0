"""The read side of aggregates: the vault's data, still sealed, for the customers an insight query may
count, and the opening of it in memory only to be counted (never returned to a brand).

Two paths: the counting records (`sealed_counts` + `count_values`: one small row per customer, only the
counted categories of vault/counting.py) and, for any other category, the field rows themselves
(`sealed_holders` + `open_for_counting`, under each customer's data key). `Vault.counting` is the one
instance; the caller checks each customer's consent on-chain before opening anything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Generator, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.errors import InputError
from consent_ledger.vault.counting import decode_values, is_counted
from consent_ledger.vault.crypto import DataKey, MasterKey, SegmentOpener
from consent_ledger.vault.models import Customer, CustomerField, CustomerKey
from consent_ledger.vault.queries import SEALED_COLUMNS, CountRow, KeyRow, read_counts

COUNT_CHUNK = 5_000  # counting records per chunk read by sealed_counts


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
    """The candidates of an aggregate, sealed, and their opening for counting."""

    def __init__(
        self, session_factory: sessionmaker[Session], master_key: MasterKey, unwrap: Callable[[KeyRow], DataKey]
    ) -> None:
        self._sessions = session_factory
        self._master = master_key
        self._unwrap = unwrap

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
