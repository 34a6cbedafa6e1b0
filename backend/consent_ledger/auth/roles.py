"""Roles: every signed-in address is a customer; registered brands and configured auditors get more."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from consent_ledger.auth._common import checksum_address
from consent_ledger.auth.errors import ForbiddenError


class Role(StrEnum):
    """What a principal may act as."""

    CUSTOMER = "customer"
    BRAND = "brand"
    AUDITOR = "auditor"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling and what they may do now: a checksummed address, the roles it holds at this request
    (from the configuration and the database, never from the token), and when its token expires (UTC)."""

    address: str
    roles: frozenset[str]
    expires_at: datetime


def roles_for(address: str, *, is_brand: bool, auditors: AbstractSet[str]) -> frozenset[Role]:
    """The roles of `address`: always customer; brand if it is a registered brand (`is_brand`); auditor if
    in `auditors` (matched case-insensitively)."""
    key = checksum_address(address).lower()
    roles = {Role.CUSTOMER}
    if is_brand:
        roles.add(Role.BRAND)
    if any(auditor.lower() == key for auditor in auditors):
        roles.add(Role.AUDITOR)
    return frozenset(roles)


def require(principal: Principal, role: Role) -> None:
    """Raise `ForbiddenError` unless `principal` holds `role`."""
    if role not in principal.roles:
        held = ", ".join(sorted(principal.roles)) or "none"
        raise ForbiddenError(f"this action needs the {role} role; {principal.address} has: {held}")
