"""The customer data vault: stores field values encrypted per customer and releases only granted categories.

`Vault` is the one entry point. Writes validate everything (address, field names, catalog categories, sizes)
before touching the database, so a refused call writes nothing. Reads decrypt in memory; `release_many` serves
a whole batch of customers with one SQL query. Every write that touches a counted category rewrites the
customer's counting record (vault/counting.py), which aggregates read instead of the field rows. Erasure
deletes the customer's wrapped data key (crypto-shredding the fields) with the counting record kept in the
same row, and the fields, and leaves a tombstone that refuses later writes. `Vault.counting`
(vault/aggregates.py) keeps the counting records and reads them for aggregates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.addresses import checksum_address
from consent_ledger.catalog import Catalog
from consent_ledger.db.base import utc_now
from consent_ledger.errors import InputError, NotFoundError
from consent_ledger.vault.aggregates import VaultCounting
from consent_ledger.vault.crypto import (
    KEY_VERSION,
    DataKey,
    MasterKey,
    new_data_key,
    open_key,
    wrap,
)
from consent_ledger.vault.errors import CryptoError, ErasedError, WrongMasterKeyError
from consent_ledger.vault.models import FIELD_NAME_LENGTH, Customer, CustomerField, CustomerKey
from consent_ledger.vault.queries import (
    KEY_COLUMNS,
    FieldRow,
    KeyRow,
    lock_customer,
    lock_customers,
    read_fields,
    upsert_fields,
)

MAX_VALUE_BYTES = 16 * 1024  # per field value, UTF-8 encoded
MAX_FIELDS_PER_CUSTOMER = 64
MAX_RELEASE_BATCH = 1000  # customers per release_many call
MAX_PUT_BATCH = 1000  # customers per put_many call
EXPORT_FORMAT = "consent-ledger/vault-export/1"
_FIELD_NAME = re.compile(rf"[a-z][a-z0-9_.-]{{0,{FIELD_NAME_LENGTH - 1}}}")


@dataclass(frozen=True, slots=True)
class FieldValue:
    """A decrypted field: its catalog category and its value."""

    category: str
    value: str


class Vault:
    """Encrypted customer data, released field by field according to the categories a grant allows."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        master_key: MasterKey,
        catalog: Catalog,
        *,
        clock: Callable[[], datetime] = utc_now,
        on_erase: Callable[[Session, str, datetime], object] | None = None,
    ) -> None:
        self._sessions = session_factory
        self._master = master_key
        self._catalog = catalog
        self._clock = clock
        self._on_erase = on_erase
        self.counting = VaultCounting(session_factory, master_key, self._unwrap, clock)

    def put_fields(self, customer: str, fields: Mapping[str, tuple[str, str]]) -> None:
        """Store or overwrite fields `{name: (category, value)}`; creates the customer and its key on first use.

        `InputError` for a bad address, field name, unknown category, non-string or oversized value, or too many
        fields; `ErasedError` once the customer was erased. Nothing is written when any check fails.
        """
        self.put_many({customer: fields})

    def put_many(self, records: Mapping[str, Mapping[str, tuple[str, str]]]) -> None:
        """`put_fields` for up to `MAX_PUT_BATCH` customers `{customer: {name: (category, value)}}` in ONE
        transaction (bulk import): a few statements for the whole batch, rows written with executemany.

        All or nothing: any refused customer (bad input, too many fields, erased) refuses the whole batch and
        writes nothing. On PostgreSQL the customers' rows are locked (in address order) until commit, as
        `put_fields` and `erase` lock one.
        """
        checked: dict[str, dict[str, tuple[str, str]]] = {}
        for customer, fields in records.items():
            address = checksum_address(customer)
            if address in checked:
                raise InputError(f"customer {address} appears twice in one batch")
            checked[address] = self._check_fields(fields)
        if not checked:
            return
        if len(checked) > MAX_PUT_BATCH:
            raise InputError(f"{len(checked)} customers in one batch; the limit is {MAX_PUT_BATCH}")
        addresses = sorted(checked)
        with self._sessions.begin() as session:
            now = self._clock()
            for address, erased_at in lock_customers(session, addresses, now):
                if erased_at is not None:
                    raise ErasedError(f"customer {address} was erased on {erased_at.isoformat()}: no new data")
            keys = self._data_keys(session, addresses, now)
            held: dict[str, dict[str, str]] = {address: {} for address in addresses}  # field -> category
            names = select(CustomerField.customer, CustomerField.field, CustomerField.category).where(
                CustomerField.customer.in_(addresses)
            )
            for address, name, category in session.execute(names):
                held[address][name] = category
            rows: list[dict[str, Any]] = []
            for address in addresses:
                total = len(held[address].keys() | checked[address].keys())
                if total > MAX_FIELDS_PER_CUSTOMER:
                    raise InputError(
                        f"customer {address} would hold {total} fields; the limit is {MAX_FIELDS_PER_CUSTOMER}"
                    )
                key = keys[address]
                for name, (category, value) in checked[address].items():
                    nonce, ciphertext = key.encrypt(name, value, category=category)
                    rows.append(
                        {
                            "customer": address,
                            "field": name,
                            "category": category,
                            "nonce": nonce,
                            "ciphertext": ciphertext,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
            session.execute(upsert_fields(session), rows)
            self.counting.rewrite(session, keys, checked, held)

    def get_fields(self, customer: str) -> dict[str, FieldValue]:
        """Every field of `customer`, decrypted; {} for an unknown or erased customer."""
        address = checksum_address(customer)
        with self._sessions() as session:
            rows = read_fields(session, [address], None)
            return {f.field: FieldValue(f.category, value) for f, value in self._decrypt(rows)}

    def release(self, customer: str, allowed_category_names: AbstractSet[str]) -> dict[str, str]:
        """`{field: value}` for the fields whose category is allowed; {} for unknown or erased customers."""
        address = checksum_address(customer)
        return self.release_many([address], {address: allowed_category_names})[address]

    def release_many(
        self, customers: Iterable[str], allowed_by_customer: Mapping[str, AbstractSet[str]]
    ) -> dict[str, dict[str, str]]:
        """`{customer: {field: value}}`: `release_records` without the categories."""
        records = self.release_records(customers, allowed_by_customer)
        return {c: {name: v.value for name, v in fields.items()} for c, fields in records.items()}

    def release_records(
        self, customers: Iterable[str], allowed_by_customer: Mapping[str, AbstractSet[str]]
    ) -> dict[str, dict[str, FieldValue]]:
        """`{customer: {field: FieldValue}}` for each of `customers` (checksummed keys), in one database query.

        A customer gets only fields whose category is in `allowed_by_customer[customer]` (absent = nothing), and
        {} when unknown or erased. Addresses may be in any case; `InputError` past `MAX_RELEASE_BATCH` customers.
        """
        addresses = list(dict.fromkeys(checksum_address(c) for c in customers))
        if len(addresses) > MAX_RELEASE_BATCH:
            raise InputError(f"{len(addresses)} customers in one release; the limit is {MAX_RELEASE_BATCH}")
        allowed = _normalize_allowed(allowed_by_customer)
        released: dict[str, dict[str, FieldValue]] = {address: {} for address in addresses}
        wanted = [address for address in addresses if allowed.get(address)]
        if not wanted:
            return released
        categories = set().union(*(allowed[address] for address in wanted))
        with self._sessions() as session:
            rows = [(f, k) for f, k in read_fields(session, wanted, categories) if f.category in allowed[f.customer]]
            for f, value in self._decrypt(rows):
                released[f.customer][f.field] = FieldValue(f.category, value)
        return released

    def export(self, customer: str) -> dict[str, Any]:
        """Everything held about `customer` (GDPR art. 20), JSON-serialisable; `NotFoundError` if never seen."""
        address = checksum_address(customer)
        labels = {c.name: c.label for c in self._catalog.categories}
        with self._sessions() as session:
            row = session.get(Customer, address)
            if row is None:
                raise NotFoundError(f"the vault holds no data for customer {address}")
            decrypted = sorted(self._decrypt(read_fields(session, [address], None)), key=lambda item: item[0].field)
            fields = [
                {
                    "field": f.field,
                    "category": f.category,
                    "category_label": labels.get(f.category),
                    "value": value,
                    "created_at": f.created_at.isoformat(),
                    "updated_at": f.updated_at.isoformat(),
                }
                for f, value in decrypted
            ]
            return {
                "format": EXPORT_FORMAT,
                "customer": address,
                "created_at": row.created_at.isoformat(),
                "erased_at": None if row.erased_at is None else row.erased_at.isoformat(),
                "exported_at": self._clock().isoformat(),
                "catalog_version": self._catalog.version,
                "fields": fields,
            }

    def erase(self, customer: str) -> int:
        """Erase `customer` (GDPR art. 17): delete the wrapped data key (with the counting record in its row)
        and every field, stamp `erased_at`.

        Returns how many fields were deleted. The first erasure calls `on_erase(session, customer,
        erased_at)` before its transaction commits (the webhooks' data.erased events). Idempotent; an
        unknown customer gets a tombstone, so the vault refuses data for that address from now on.
        """
        address = checksum_address(customer)
        with self._sessions.begin() as session:
            now = self._clock()
            row = lock_customer(session, address, now)
            count = session.scalar(
                select(func.count()).select_from(CustomerField).where(CustomerField.customer == address)
            )
            session.execute(delete(CustomerKey).where(CustomerKey.customer == address))
            session.execute(delete(CustomerField).where(CustomerField.customer == address))
            if row.erased_at is None:
                row.erased_at = now
                if self._on_erase is not None:  # the recipients are told (webhooks), in this transaction
                    self._on_erase(session, address, now)
            return int(count or 0)

    def erasures(self, customers: list[str] | None = None) -> list[tuple[str, datetime]]:
        """(address, erased at) of every erased customer (or of those in `customers`), oldest first."""
        query = select(Customer.address, Customer.erased_at).where(Customer.erased_at.is_not(None))
        if customers is not None:
            query = query.where(Customer.address.in_([checksum_address(c) for c in customers]))
        with self._sessions() as session:
            rows = session.execute(query.order_by(Customer.erased_at, Customer.address)).all()
        return [(str(address), erased_at) for address, erased_at in rows if erased_at is not None]

    def customer_exists(self, customer: str) -> bool:
        """True when the vault knows `customer` and has not erased them."""
        address = checksum_address(customer)
        with self._sessions() as session:
            row = session.get(Customer, address)
            return row is not None and row.erased_at is None

    def is_erased(self, customer: str) -> bool:
        """True once `customer` was erased."""
        address = checksum_address(customer)
        with self._sessions() as session:
            erased_at = session.scalar(select(Customer.erased_at).where(Customer.address == address))
            return erased_at is not None

    def _check_fields(self, fields: Mapping[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
        if not isinstance(fields, Mapping) or not fields:
            raise InputError("no fields given: pass {field name: (category, value)}")
        if len(fields) > MAX_FIELDS_PER_CUSTOMER:
            raise InputError(f"{len(fields)} fields in one call; the limit is {MAX_FIELDS_PER_CUSTOMER}")
        checked: dict[str, tuple[str, str]] = {}
        for name, item in fields.items():
            if not isinstance(name, str) or not _FIELD_NAME.fullmatch(name):
                raise InputError(
                    f"invalid field name {name!r}: lower-case letters, digits, '_', '.', '-', "
                    f"starting with a letter, at most {FIELD_NAME_LENGTH} characters"
                )
            if not isinstance(item, tuple) or len(item) != 2:
                raise InputError(f"field {name!r}: expected a (category, value) pair")
            category, value = item
            self._catalog.category(category)  # InputError naming close matches when unknown
            if not isinstance(value, str):
                raise InputError(f"field {name!r}: the value must be a string, not {type(value).__name__}")
            size = len(value.encode("utf-8"))
            if size > MAX_VALUE_BYTES:
                raise InputError(f"field {name!r}: the value has {size} bytes; the limit is {MAX_VALUE_BYTES}")
            checked[name] = (category, value)
        return checked

    @property
    def master_key_id(self) -> str:
        return self._master.key_id

    def foreign_master_keys(self) -> list[str]:
        """Fingerprints of the other master keys that wrapped data keys in this database (none, normally:
        a database made under another key is unreadable with this one)."""
        with self._sessions() as session:
            query = select(CustomerKey.master_key_id).where(CustomerKey.master_key_id != self._master.key_id)
            return sorted(set(session.scalars(query.distinct())))

    def _data_keys(self, session: Session, addresses: Sequence[str], now: datetime) -> dict[str, DataKey]:
        """Each customer's data key: unwrapped from its row, or made, wrapped and stored on first use."""
        keys: dict[str, DataKey] = {}
        query = select(*KEY_COLUMNS).where(CustomerKey.customer.in_(addresses))
        for key_row in session.execute(query):
            keys[key_row.customer] = self._unwrap(key_row)
        fresh: list[dict[str, Any]] = []
        for address in addresses:
            if address not in keys:
                data_key = new_data_key()
                keys[address] = DataKey(data_key, address)
                fresh.append(
                    {
                        "customer": address,
                        "wrapped_key": wrap(self._master, data_key, address),
                        "key_version": KEY_VERSION,
                        "master_key_id": self._master.key_id,
                        "created_at": now,
                    }
                )
        if fresh:
            session.execute(insert(CustomerKey), fresh)
        return keys

    def _unwrap(self, key_row: KeyRow) -> DataKey:
        if key_row.key_version != KEY_VERSION:
            raise CryptoError(f"the data key of {key_row.customer} uses unknown scheme version {key_row.key_version}")
        if key_row.master_key_id != self._master.key_id:
            raise WrongMasterKeyError(
                f"the data key of {key_row.customer} was wrapped by master key {key_row.master_key_id}, "
                f"but the configured master key is {self._master.key_id}"
            )
        return open_key(self._master, key_row.wrapped_key, key_row.customer)

    def _decrypt(self, rows: Iterable[tuple[FieldRow, KeyRow]]) -> list[tuple[FieldRow, str]]:
        """Each field row with its plaintext; each customer's data key is unwrapped once."""
        keys: dict[str, DataKey] = {}
        out: list[tuple[FieldRow, str]] = []
        for f, key_row in rows:
            data_key = keys.get(f.customer)
            if data_key is None:
                data_key = keys[f.customer] = self._unwrap(key_row)
            out.append((f, data_key.decrypt(f.field, f.nonce, f.ciphertext, category=f.category)))
        return out


def _normalize_allowed(allowed_by_customer: Mapping[str, AbstractSet[str]]) -> dict[str, frozenset[str]]:
    """Allowed categories keyed by checksummed address; `InputError` when two spellings disagree."""
    allowed: dict[str, frozenset[str]] = {}
    for customer, names in allowed_by_customer.items():
        if not isinstance(names, AbstractSet):  # also refuses a bare string
            raise InputError(f"allowed categories for {customer} must be a set of category names")
        address, names_set = checksum_address(customer), frozenset(names)
        if allowed.get(address, names_set) != names_set:
            raise InputError(f"customer {address} appears twice with different allowed categories")
        allowed[address] = names_set
    return allowed
