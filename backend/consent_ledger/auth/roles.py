"""Roles: every signed-in address is a customer; registered brands and configured auditors get more."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from enum import StrEnum

from consent_ledger.auth._common import checksum_address
from consent_ledger.auth.errors import ForbiddenError
from consent_ledger.auth.tokens import Principal


class Role(StrEnum):
    """What a principal may act as. Values are the strings stored in tokens."""

    CUSTOMER = "customer"
    BRAND = "brand"
    AUDITOR = "auditor"


def roles_for(address: str, brands: Mapping[str, str], auditors: AbstractSet[str]) -> frozenset[Role]:
    """The roles of `address`: always customer; brand if a key of `brands` (address to display name);
    auditor if in `auditors`. Addresses are matched case-insensitively."""
    key = checksum_address(address).lower()
    roles = {Role.CUSTOMER}
    if any(brand.lower() == key for brand in brands):
        roles.add(Role.BRAND)
    if any(auditor.lower() == key for auditor in auditors):
        roles.add(Role.AUDITOR)
    return frozenset(roles)


def require(principal: Principal, role: Role) -> None:
    """Raise `ForbiddenError` unless `principal` holds `role`."""
    if role not in principal.roles:
        held = ", ".join(sorted(principal.roles)) or "none"
        raise ForbiddenError(f"this action needs the {role} role; {principal.address} has: {held}")
