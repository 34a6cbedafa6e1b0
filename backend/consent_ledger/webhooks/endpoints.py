"""The endpoint store: brands' webhook endpoints and their signing secrets.

Every method takes the caller's session, so the management API and the delivery worker each run them
inside their own transaction. An endpoint is made with one secret (`whsec_...`, returned once, kept
sealed under the vault master key). A rotation makes a new secret and gives the current one 24 hours
more, so both sign during the change-over; at most two are valid at once (rotating again ends the older
one at once). Changes a concurrent writer must not overwrite name the version they read
(compare-and-set): the worker's automatic disable loses to a brand's edit made after it looked.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from consent_ledger.addresses import checksum_address
from consent_ledger.apimodels.webhook_events import EVENT_TYPES
from consent_ledger.errors import ConflictError, InputError, NotFoundError
from consent_ledger.vault.crypto import MasterKey
from consent_ledger.webhooks.models import MAX_DESCRIPTION, MAX_REASON, WebhookEndpoint, WebhookEndpointSecret
from consent_ledger.webhooks.sealing import new_secret, seal, unseal

ROTATION_OVERLAP = timedelta(hours=24)
MAX_ENDPOINTS = 20


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    brand: str
    url: str
    event_types: tuple[str, ...]
    description: str
    created_at: datetime
    disabled_at: datetime | None
    disabled_reason: str | None
    failing_since: datetime | None
    version: int

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None

    @classmethod
    def of(cls, row: WebhookEndpoint) -> Endpoint:
        return cls(
            row.id,
            row.brand,
            row.url,
            tuple(row.event_types.split()),
            row.description,
            row.created_at,
            row.disabled_at,
            row.disabled_reason,
            row.failing_since,
            row.version,
        )


@dataclass(frozen=True, slots=True)
class WithSecret:
    """An endpoint just made, or just given a new secret: the secret is in this answer only."""

    endpoint: Endpoint
    secret: str
    previous_secret_expires_at: datetime | None = None


def parse_event_types(names: Collection[str]) -> tuple[str, ...]:
    """The event types named, in EVENT_TYPES order without repeats; `InputError` for an unknown one."""
    if isinstance(names, str):
        raise InputError("event_types is a list of event types")
    unknown = sorted(set(names) - set(EVENT_TYPES))
    if unknown:
        raise InputError(f"unknown event type {unknown[0][:60]!r}: choose among {', '.join(EVENT_TYPES)}")
    if not names:
        raise InputError(f"name at least one event type among {', '.join(EVENT_TYPES)}")
    return tuple(kind for kind in EVENT_TYPES if kind in names)


def check_description(text: str) -> str:
    value = text.strip()
    if len(value) > MAX_DESCRIPTION:
        raise InputError(f"a description has at most {MAX_DESCRIPTION} characters")
    if any(ord(ch) < 0x20 for ch in value):
        raise InputError("a description is one line of text, without control characters")
    return value


def parse_endpoint_id(endpoint_id: str) -> str:
    """The canonical form of an endpoint id; `NotFoundError` for anything that is not a UUID (no such endpoint)."""
    try:
        return str(uuid.UUID(endpoint_id))
    except (ValueError, AttributeError, TypeError) as error:
        raise NotFoundError("no such webhook endpoint: an endpoint id is a UUID") from error


class EndpointStore:
    """Endpoints and their secrets; `master` seals and opens the secrets."""

    def __init__(self, master: MasterKey) -> None:
        self._master = master

    def __repr__(self) -> str:
        return f"EndpointStore(master={self._master!r})"

    # ------------------------------------------------------------ management (the brand's own)

    def create(
        self, session: Session, brand: str, url: str, event_types: Collection[str], description: str, now: datetime
    ) -> WithSecret:
        """A new enabled endpoint with its first secret. `url` must have passed the destination check."""
        brand = checksum_address(brand)
        kinds = parse_event_types(event_types)
        text = check_description(description)
        count = session.scalar(select(func.count()).select_from(WebhookEndpoint).where(WebhookEndpoint.brand == brand))
        if int(count or 0) >= MAX_ENDPOINTS:
            raise ConflictError(f"you have {MAX_ENDPOINTS} webhook endpoints, the most allowed: delete one first")
        row = WebhookEndpoint(
            id=str(uuid.uuid4()),
            brand=brand,
            url=url,
            event_types=" ".join(kinds),
            description=text,
            created_at=now,
            version=1,
        )
        session.add(row)
        session.flush()
        secret = self._add_secret(session, row.id, now)
        return WithSecret(Endpoint.of(row), secret)

    def of_brand(self, session: Session, brand: str) -> list[Endpoint]:
        """The brand's endpoints, oldest first."""
        query = (
            select(WebhookEndpoint)
            .where(WebhookEndpoint.brand == checksum_address(brand))
            .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        )
        return [Endpoint.of(row) for row in session.scalars(query)]

    def get(self, session: Session, brand: str, endpoint_id: str) -> Endpoint:
        return Endpoint.of(self._row(session, brand, endpoint_id))

    def update(
        self,
        session: Session,
        brand: str,
        endpoint_id: str,
        *,
        url: str | None = None,
        event_types: Collection[str] | None = None,
        description: str | None = None,
    ) -> Endpoint:
        """Change what is given (a checked `url`); the version goes up when anything changed."""
        row = self._row(session, brand, endpoint_id, lock=True)
        changes: dict[str, str] = {}
        if url is not None and url != row.url:
            changes["url"] = url
        if event_types is not None:
            kinds = " ".join(parse_event_types(event_types))
            if kinds != row.event_types:
                changes["event_types"] = kinds
        if description is not None:
            text = check_description(description)
            if text != row.description:
                changes["description"] = text
        if changes:
            for name, value in changes.items():
                setattr(row, name, value)
            row.version += 1
            session.flush()
        return Endpoint.of(row)

    def delete(self, session: Session, brand: str, endpoint_id: str) -> None:
        """Delete the endpoint and its secrets; `NotFoundError` if the brand has no such endpoint."""
        row = self._row(session, brand, endpoint_id, lock=True)
        session.execute(delete(WebhookEndpointSecret).where(WebhookEndpointSecret.endpoint_id == row.id))
        session.delete(row)
        session.flush()

    def rotate(self, session: Session, brand: str, endpoint_id: str, now: datetime) -> WithSecret:
        """A new current secret; the one it replaces stays valid for ROTATION_OVERLAP, any older one ends now."""
        row = self._row(session, brand, endpoint_id, lock=True)
        session.execute(
            delete(WebhookEndpointSecret).where(
                WebhookEndpointSecret.endpoint_id == row.id, WebhookEndpointSecret.expires_at.is_not(None)
            )
        )
        ends = now + ROTATION_OVERLAP
        session.execute(
            update(WebhookEndpointSecret)
            .where(WebhookEndpointSecret.endpoint_id == row.id, WebhookEndpointSecret.expires_at.is_(None))
            .values(expires_at=ends)
            .execution_options(synchronize_session=False)
        )
        secret = self._add_secret(session, row.id, now)
        return WithSecret(Endpoint.of(row), secret, ends)

    def reenable(self, session: Session, brand: str, endpoint_id: str, now: datetime) -> Endpoint:
        """Enable the endpoint again (after an automatic disable): clears the reason and the failing streak."""
        row = self._row(session, brand, endpoint_id, lock=True)
        if row.disabled_at is not None or row.failing_since is not None:
            row.disabled_at, row.disabled_reason, row.failing_since = None, None, None
            row.version += 1
            session.flush()
        return Endpoint.of(row)

    # ------------------------------------------------------------ delivery (the worker)

    def endpoints_for(self, session: Session, brand: str, event_type: str) -> list[Endpoint]:
        """The brand's enabled endpoints subscribed to `event_type`, oldest first."""
        query = (
            select(WebhookEndpoint)
            .where(WebhookEndpoint.brand == checksum_address(brand), WebhookEndpoint.disabled_at.is_(None))
            .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        )
        return [Endpoint.of(row) for row in session.scalars(query) if event_type in row.event_types.split()]

    def endpoint(self, session: Session, endpoint_id: str) -> Endpoint | None:
        """Any endpoint by id (the worker's look-up), or None once deleted."""
        row = session.get(WebhookEndpoint, parse_endpoint_id(endpoint_id))
        return None if row is None else Endpoint.of(row)

    def signing_secrets(self, session: Session, endpoint_id: str, now: datetime) -> list[str]:
        """The endpoint's valid secrets at `now`, newest first (two during a rotation; [] if deleted)."""
        return self.signing_secrets_of(session, [endpoint_id], now).get(endpoint_id, [])

    def signing_secrets_of(self, session: Session, endpoint_ids: Iterable[str], now: datetime) -> dict[str, list[str]]:
        """`signing_secrets` of several endpoints in one read (an endpoint without any is left out)."""
        query = (
            select(WebhookEndpointSecret)
            .where(WebhookEndpointSecret.endpoint_id.in_(set(endpoint_ids)))
            .order_by(WebhookEndpointSecret.created_at.desc(), WebhookEndpointSecret.id)
        )
        found: dict[str, list[str]] = {}
        for r in session.scalars(query):
            if r.expires_at is None or r.expires_at > now:
                found.setdefault(r.endpoint_id, []).append(unseal(self._master, r.sealed, r.endpoint_id, r.id))
        return found

    def disable(self, session: Session, endpoint_id: str, expected_version: int, reason: str, now: datetime) -> bool:
        """Disable the endpoint if it is still at `expected_version` and enabled; False if someone changed it."""
        result = session.execute(
            update(WebhookEndpoint)
            .where(
                WebhookEndpoint.id == endpoint_id,
                WebhookEndpoint.version == expected_version,
                WebhookEndpoint.disabled_at.is_(None),
            )
            .values(disabled_at=now, disabled_reason=reason[:MAX_REASON], version=WebhookEndpoint.version + 1)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    def note_failing(self, session: Session, endpoint_id: str, now: datetime) -> datetime | None:
        """Start the endpoint's failing streak if none runs; the streak's start (None once deleted)."""
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.failing_since.is_(None))
            .values(failing_since=now)
            .execution_options(synchronize_session=False)
        )
        since: datetime | None = session.scalar(
            select(WebhookEndpoint.failing_since).where(WebhookEndpoint.id == endpoint_id)
        )
        return since

    def note_ok(self, session: Session, *endpoint_ids: str) -> None:
        """End the endpoints' failing streaks (a delivery to each succeeded), in one statement."""
        if not endpoint_ids:
            return
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id.in_(endpoint_ids), WebhookEndpoint.failing_since.is_not(None))
            .values(failing_since=None)
            .execution_options(synchronize_session=False)
        )

    # ------------------------------------------------------------ internals

    def _row(self, session: Session, brand: str, endpoint_id: str, *, lock: bool = False) -> WebhookEndpoint:
        query = select(WebhookEndpoint).where(
            WebhookEndpoint.id == parse_endpoint_id(endpoint_id), WebhookEndpoint.brand == checksum_address(brand)
        )
        row = session.scalar(query.with_for_update() if lock else query)
        if row is None:
            raise NotFoundError("you have no webhook endpoint with this id")
        return row

    def _add_secret(self, session: Session, endpoint_id: str, now: datetime) -> str:
        secret, secret_id = new_secret(), str(uuid.uuid4())
        session.add(
            WebhookEndpointSecret(
                id=secret_id,
                endpoint_id=endpoint_id,
                sealed=seal(self._master, secret, endpoint_id, secret_id),
                master_key_id=self._master.key_id,
                created_at=now,
            )
        )
        session.flush()
        return secret
