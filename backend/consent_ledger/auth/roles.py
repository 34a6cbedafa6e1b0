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
    (from the configuration and the database, never from the token), and when its token expires (UTC).
    A brand's API key gives at most the brand role, and only the permissions the key was made with."""

    address: str
    roles: frozenset[str]
    expires_at: datetime
    key_id: str | None = None  # set when the caller sent an API key: then only `permissions` are open to it
    permissions: frozenset[str] = frozenset()


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


def require_session(principal: Principal) -> None:
    """Raise `ForbiddenError` if the caller used an API key: this action needs a wallet sign-in."""
    if principal.key_id is not None:
        raise ForbiddenError(
            "API keys open only the brand endpoints of their permissions: sign in with your wallet for this one"
        )


def require_permission(principal: Principal, permission: str) -> None:
    """Raise `ForbiddenError` if the caller used an API key made without `permission` (a wallet sign-in
    may do whatever its roles allow)."""
    if principal.key_id is not None and permission not in principal.permissions:
        held = ", ".join(sorted(principal.permissions)) or "none"
        raise ForbiddenError(f"this API key lacks the permission {permission}; it has: {held}")
