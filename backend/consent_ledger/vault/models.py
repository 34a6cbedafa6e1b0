"""The vault's tables: customers, one wrapped data key per customer (with the customer's counting record:
the values of the counted categories again, sealed per category, for aggregates), and encrypted fields.

Erasure (GDPR art. 17) deletes the customer's `customer_keys` row (counting record included) and every
`customer_fields` row, and stamps `customers.erased_at`; the customer row stays as a tombstone so later
writes for that address are refused. Deleting the wrapped key is crypto-shredding: copies of ciphertext
(fields and counting records) left in backups can no longer be decrypted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from consent_ledger.db.base import Base, UtcDateTime

ADDRESS_LENGTH = 42  # "0x" + 40 hex digits, EIP-55 checksummed
FIELD_NAME_LENGTH = 64
CATEGORY_NAME_LENGTH = 64
MASTER_KEY_ID_LENGTH = 16


class Customer(Base):
    """A customer known to the vault, by checksummed address. `erased_at` is set once, by erasure."""

    __tablename__ = "customers"

    address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)


class CustomerKey(Base):
    """The customer's data key, wrapped (AES-256-GCM) by the master key, and the counting record sealed under
    it (vault/counting.py): one column per counted category, NULL or that category's values, read by the
    aggregate path in one row per customer; `counts_version` is `counting.COUNTS_VERSION` once built (NULL
    before). Rewritten with every write that touches those categories. Deleted, record and all, on erasure."""

    __tablename__ = "customer_keys"

    customer: Mapped[str] = mapped_column(
        String(ADDRESS_LENGTH), ForeignKey("customers.address", ondelete="CASCADE"), primary_key=True
    )
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary())
    key_version: Mapped[int] = mapped_column(Integer())
    master_key_id: Mapped[str] = mapped_column(String(MASTER_KEY_ID_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    counts_version: Mapped[int | None] = mapped_column(Integer(), default=None)
    age_range: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    gender: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    interests: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    location_coarse: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)


class CustomerField(Base):
    """One encrypted value, e.g. field "email" in category "contact.email". Unique per (customer, field)."""

    __tablename__ = "customer_fields"

    customer: Mapped[str] = mapped_column(
        String(ADDRESS_LENGTH), ForeignKey("customers.address", ondelete="CASCADE"), primary_key=True
    )
    field: Mapped[str] = mapped_column(String(FIELD_NAME_LENGTH), primary_key=True)
    category: Mapped[str] = mapped_column(String(CATEGORY_NAME_LENGTH))
    nonce: Mapped[bytes] = mapped_column(LargeBinary())
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
