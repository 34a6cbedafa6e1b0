"""Release receipts: one row per customer record released to a brand, committed before the data
leaves. Names the block the on-chain decision was made at. Never updated or deleted by the code
(the access-log issue builds its Merkle log on these rows)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from consent_ledger.db.base import Base, UtcDateTime
from consent_ledger.db.types import Uint64

ADDRESS = 42
HASH = 66


class ReleaseReceipt(Base):
    __tablename__ = "release_receipts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # uuid4
    request_id: Mapped[str] = mapped_column(String(36), index=True)
    customer: Mapped[str] = mapped_column(String(ADDRESS), index=True)
    brand: Mapped[str] = mapped_column(String(ADDRESS), index=True)
    categories: Mapped[int] = mapped_column(Uint64())  # uint64 mask actually released
    purposes: Mapped[int] = mapped_column(Uint64())  # the purpose bit asked for
    fields: Mapped[str] = mapped_column(Text())  # JSON list of field names released (never values)
    block_number: Mapped[int] = mapped_column(Integer())
    block_hash: Mapped[str] = mapped_column(String(HASH))
    released_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Brand(Base):
    """Addresses registered as brands, with the name people see."""

    __tablename__ = "brands"

    address: Mapped[str] = mapped_column(String(ADDRESS), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AuthNonce(Base):
    """Sign-In with Ethereum nonces: issued by the server, consumed once."""

    __tablename__ = "auth_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class DeploymentBinding(Base):
    """The deployment this database serves (one row)."""

    __tablename__ = "deployment_binding"

    id: Mapped[int] = mapped_column(Integer(), primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger())
    contract: Mapped[str] = mapped_column(String(ADDRESS))
    bound_at: Mapped[datetime] = mapped_column(UtcDateTime())
