"""The brand registry: which addresses are brands, and the names people see."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.addresses import checksum_address
from consent_ledger.brands.models import Brand
from consent_ledger.db.base import utc_now
from consent_ledger.errors import InputError

MAX_NAME = 120


class BrandRegistry:
    def __init__(self, session_factory: sessionmaker[Session], clock: Callable[[], datetime] = utc_now) -> None:
        self._sessions = session_factory
        self._clock = clock

    def add(self, address: str, name: str) -> str:
        """Register (or rename) a brand; returns its checksummed address."""
        checked = checksum_address(address)
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise InputError(f"a brand name must have 1 to {MAX_NAME} characters")
        with self._sessions.begin() as session:
            row = session.get(Brand, checked)
            if row is None:
                session.add(Brand(address=checked, name=name, created_at=self._clock()))
            else:
                row.name = name
        return checked

    def all(self) -> dict[str, str]:
        with self._sessions() as session:
            return {b.address: b.name for b in session.scalars(select(Brand).order_by(Brand.name))}

    def is_brand(self, address: str) -> bool:
        """Whether `address` is registered now (one primary-key lookup: asked on every signed-in request)."""
        with self._sessions() as session:
            return session.get(Brand, checksum_address(address)) is not None

    def remove(self, address: str) -> bool:
        """Unregister a brand; True if it was registered. Its signed-in sessions lose the brand role at once."""
        with self._sessions.begin() as session:
            row = session.get(Brand, checksum_address(address))
            if row is None:
                return False
            session.delete(row)
            return True

    def name_of(self, address: str) -> str | None:
        with self._sessions() as session:
            row = session.get(Brand, checksum_address(address))
            return None if row is None else row.name
