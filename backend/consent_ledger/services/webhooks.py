"""Managing a brand's webhook endpoints and deliveries: each URL passes the destination check (no DNS
here: the sender resolves and checks again before every delivery), each change runs in one transaction,
and a brand sees only its own endpoints, attempts and events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.apimodels.webhook_events import EVENT_TYPES
from consent_ledger.db.base import utc_now
from consent_ledger.webhooks.deliveries import DeliveryViews
from consent_ledger.webhooks.destinations import parse_destination
from consent_ledger.webhooks.endpoints import Endpoint, EndpointStore, WithSecret
from consent_ledger.webhooks.signing import SigningKey, published_keys


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def endpoint_json(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "event_types": list(endpoint.event_types),
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "created_at": endpoint.created_at.isoformat(),
        "disabled_at": _iso(endpoint.disabled_at),
        "disabled_reason": endpoint.disabled_reason,
        "failing_since": _iso(endpoint.failing_since),
        "version": endpoint.version,
    }


def _with_secret(made: WithSecret) -> dict[str, Any]:
    return endpoint_json(made.endpoint) | {
        "secret": made.secret,
        "previous_secret_expires_at": _iso(made.previous_secret_expires_at),
    }


class WebhookService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        store: EndpointStore,
        key: SigningKey,
        *,
        allow_private: bool,
        views: DeliveryViews | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._views = views
        self._sessions = sessions
        self._store = store
        self._key = key
        self._allow_private = allow_private
        self._clock = clock

    def create(self, brand: str, url: str, event_types: Sequence[str], description: str) -> dict[str, Any]:
        checked = parse_destination(url, allow_private=self._allow_private).url
        with self._sessions.begin() as session:
            return _with_secret(self._store.create(session, brand, checked, event_types, description, self._clock()))

    def endpoints(self, brand: str) -> dict[str, Any]:
        with self._sessions() as session:
            found = self._store.of_brand(session, brand)
        return {"endpoints": [endpoint_json(e) for e in found], "event_types": list(EVENT_TYPES)}

    def endpoint(self, brand: str, endpoint_id: str) -> dict[str, Any]:
        with self._sessions() as session:
            return endpoint_json(self._store.get(session, brand, endpoint_id))

    def update(
        self,
        brand: str,
        endpoint_id: str,
        *,
        url: str | None,
        event_types: Sequence[str] | None,
        description: str | None,
    ) -> dict[str, Any]:
        checked = None if url is None else parse_destination(url, allow_private=self._allow_private).url
        with self._sessions.begin() as session:
            changed = self._store.update(
                session, brand, endpoint_id, url=checked, event_types=event_types, description=description
            )
            return endpoint_json(changed)

    def delete(self, brand: str, endpoint_id: str) -> dict[str, Any]:
        with self._sessions.begin() as session:
            endpoint = self._store.get(session, brand, endpoint_id)
            self._store.delete(session, brand, endpoint_id)
            return endpoint_json(endpoint)

    def rotate(self, brand: str, endpoint_id: str) -> dict[str, Any]:
        with self._sessions.begin() as session:
            return _with_secret(self._store.rotate(session, brand, endpoint_id, self._clock()))

    def enable(self, brand: str, endpoint_id: str) -> dict[str, Any]:
        with self._sessions.begin() as session:
            return endpoint_json(self._store.reenable(session, brand, endpoint_id, self._clock()))

    def keys(self) -> dict[str, Any]:
        return published_keys(self._key)

    # ------------------------------------------------------------------ deliveries

    def _delivery_views(self) -> DeliveryViews:
        if self._views is None:
            raise RuntimeError("this WebhookService was built without the delivery views")
        return self._views

    def attempts(self, brand: str, endpoint_id: str, cursor: str | None, limit: int) -> dict[str, Any]:
        with self._sessions() as session:
            page = self._delivery_views().attempts(session, brand, endpoint_id, cursor, limit)
        return {"attempts": page.items, "next": page.next}

    def events(self, brand: str, cursor: str | None, limit: int, kind: str | None) -> dict[str, Any]:
        with self._sessions() as session:
            page = self._delivery_views().events(session, brand, cursor, limit, kind)
        return {"events": page.items, "next": page.next}

    def replay_event(self, brand: str, event_id: str) -> dict[str, Any]:
        with self._sessions.begin() as session:
            return {"queued": self._delivery_views().replay_event(session, brand, event_id, self._clock())}

    def replay_range(self, brand: str, endpoint_id: str, since: datetime, until: datetime) -> dict[str, Any]:
        with self._sessions.begin() as session:
            queued = self._delivery_views().replay_range(session, brand, endpoint_id, since, until, self._clock())
            return {"queued": queued}

    def acknowledge(self, brand: str, event_id: str, ack: str) -> dict[str, Any]:
        with self._sessions.begin() as session:
            return dict(self._delivery_views().acknowledge(session, brand, event_id, ack, self._clock()))
