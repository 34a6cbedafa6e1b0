"""`BrandClient`: a brand's server talking to Consent Ledger with an API key, over HTTP (httpx).

Every answer is parsed into the response model the server declares for that route (consent_ledger.apimodels),
so a reply that does not match the API's schema is an error here, not a surprise later. A 4xx raises
`RequestRefusedError` with the server's problem document; a 5xx, an undocumented reply or no answer raises
`ServiceFailedError` (retry later).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from consent_ledger.apimodels.base import Problem, ReleaseReceipt, ReleaseReceipts, Reply
from consent_ledger.apimodels.brand import CheckAnswers, InsightBudget, Release, Segment
from consent_ledger.apimodels.webhooks import (
    WebhookAck,
    WebhookAttempt,
    WebhookAttempts,
    WebhookEndpoint,
    WebhookEndpoints,
    WebhookEndpointWithSecret,
    WebhookEventPage,
    WebhookEventSummary,
    WebhookKeys,
    WebhookReplay,
)
from consent_ledger.client import routes
from consent_ledger.client.errors import RequestRefusedError, ServiceFailedError
from consent_ledger.client.routes import Route
from consent_ledger.errors import ConfigError

M = TypeVar("M", bound=Reply)
API_KEY_PREFIX = "clk_"
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Question:
    """May this brand use these categories of this customer's data for this purpose?"""

    customer: str
    categories: Sequence[str]
    purpose: str

    def to_json(self) -> dict[str, Any]:
        return {"customer": self.customer, "categories": list(self.categories), "purpose": self.purpose}


class BrandClient:
    """The brand API with one of the brand's API keys (made in the brand console or POST /v1/brand/api-keys)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not api_key.startswith(API_KEY_PREFIX):
            raise ConfigError("an API key starts with clk_ (make one in the brand console)")
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"BrandClient({str(self._http.base_url)!r}, <api key>)"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> BrandClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # Permissions (permissions:read)

    def check(self, questions: Sequence[Question]) -> CheckAnswers:
        """Answers, in order, from the chain at one pinned block (up to the server's limit per call)."""
        body = {"questions": [q.to_json() for q in questions]}
        return self._call(routes.CHECK, CheckAnswers, json=body)

    def allowed(self, customer: str, categories: Sequence[str], purpose: str) -> bool:
        """One question: may you use these categories of `customer` for `purpose`, now?"""
        return self.check([Question(customer, categories, purpose)]).answers[0]

    def segment(self, categories: Sequence[str], purpose: str) -> Segment:
        """Customers who allow you all `categories` for `purpose`, now."""
        params = {"categories": ",".join(categories), "purpose": purpose}
        return self._call(routes.SEGMENT, Segment, params=params)

    # Releases (releases:request) and receipts (receipts:read)

    def release(self, customers: Sequence[str], categories: Sequence[str], purpose: str) -> Release:
        """For each customer, only the fields whose categories they granted you for `purpose`."""
        body = {"customers": list(customers), "categories": list(categories), "purpose": purpose}
        return self._call(routes.RELEASE, Release, json=body)

    def receipts(self, *, limit: int = 100, after: str | None = None) -> ReleaseReceipts:
        """One page of your release receipts, newest first; its `next` is the `after` of the next page."""
        params: dict[str, Any] = {"limit": limit} | ({} if after is None else {"after": after})
        return self._call(routes.RECEIPTS, ReleaseReceipts, params=params)

    def iter_receipts(self, *, page_size: int = 100) -> Iterator[ReleaseReceipt]:
        """Every receipt, newest first, fetched a page at a time."""
        after: str | None = None
        while True:
            page = self.receipts(limit=page_size, after=after)
            yield from page.releases
            if page.next is None:
                return
            after = page.next

    # Insights (insights:query)

    def insight_budget(self) -> InsightBudget:
        return self._call(routes.INSIGHT_BUDGET, InsightBudget)

    # Webhook endpoints (webhooks:manage)

    def create_webhook_endpoint(
        self, url: str, event_types: Sequence[str], description: str = ""
    ) -> WebhookEndpointWithSecret:
        """A new endpoint for these event types; its `secret` is in this answer only: store it now."""
        body = {"url": url, "event_types": list(event_types), "description": description}
        return self._call(routes.CREATE_ENDPOINT, WebhookEndpointWithSecret, json=body)

    def webhook_endpoints(self) -> WebhookEndpoints:
        """Your endpoints, oldest first, and the event types there are."""
        return self._call(routes.LIST_ENDPOINTS, WebhookEndpoints)

    def webhook_endpoint(self, endpoint_id: str) -> WebhookEndpoint:
        return self._call(routes.GET_ENDPOINT, WebhookEndpoint, path={"endpoint_id": endpoint_id})

    def update_webhook_endpoint(
        self,
        endpoint_id: str,
        *,
        url: str | None = None,
        event_types: Sequence[str] | None = None,
        description: str | None = None,
    ) -> WebhookEndpoint:
        """Change what is given; the rest (and the secret) stays."""
        changes: dict[str, Any] = {"url": url, "description": description}
        changes["event_types"] = None if event_types is None else list(event_types)
        body = {name: value for name, value in changes.items() if value is not None}
        return self._call(routes.UPDATE_ENDPOINT, WebhookEndpoint, path={"endpoint_id": endpoint_id}, json=body)

    def delete_webhook_endpoint(self, endpoint_id: str) -> WebhookEndpoint:
        """Delete it (and its secrets); the answer is the endpoint as it was."""
        return self._call(routes.DELETE_ENDPOINT, WebhookEndpoint, path={"endpoint_id": endpoint_id})

    def rotate_webhook_secret(self, endpoint_id: str) -> WebhookEndpointWithSecret:
        """A new secret (in this answer only); the old one keeps signing until `previous_secret_expires_at`."""
        return self._call(routes.ROTATE_SECRET, WebhookEndpointWithSecret, path={"endpoint_id": endpoint_id})

    def enable_webhook_endpoint(self, endpoint_id: str) -> WebhookEndpoint:
        """Turn an endpoint disabled after failing deliveries back on."""
        return self._call(routes.ENABLE_ENDPOINT, WebhookEndpoint, path={"endpoint_id": endpoint_id})

    def webhook_keys(self) -> WebhookKeys:
        """The installation's public keys (`whpk_...`), for `WebhookVerifier(public_keys=...)`."""
        return self._call(routes.WEBHOOK_KEYS, WebhookKeys)

    # Webhook deliveries (webhooks:manage)

    def webhook_attempts(self, endpoint_id: str, *, limit: int = 100, cursor: str | None = None) -> WebhookAttempts:
        """One page of the endpoint's delivery log, newest first; its `next` is the `cursor` of the next page."""
        params: dict[str, Any] = {"limit": limit} | ({} if cursor is None else {"cursor": cursor})
        return self._call(routes.WEBHOOK_ATTEMPTS, WebhookAttempts, path={"endpoint_id": endpoint_id}, params=params)

    def iter_webhook_attempts(self, endpoint_id: str, *, page_size: int = 100) -> Iterator[WebhookAttempt]:
        cursor: str | None = None
        while True:
            page = self.webhook_attempts(endpoint_id, limit=page_size, cursor=cursor)
            yield from page.attempts
            if page.next is None:
                return
            cursor = page.next

    def webhook_events(
        self, *, limit: int = 100, cursor: str | None = None, type: str | None = None
    ) -> WebhookEventPage:
        """One page of your webhook events with their delivery state, newest first (optionally one type)."""
        params: dict[str, Any] = {"limit": limit}
        params |= ({} if cursor is None else {"cursor": cursor}) | ({} if type is None else {"type": type})
        return self._call(routes.WEBHOOK_EVENTS, WebhookEventPage, params=params)

    def iter_webhook_events(self, *, page_size: int = 100, type: str | None = None) -> Iterator[WebhookEventSummary]:
        cursor: str | None = None
        while True:
            page = self.webhook_events(limit=page_size, cursor=cursor, type=type)
            yield from page.events
            if page.next is None:
                return
            cursor = page.next

    def replay_webhook_event(self, event_id: str) -> WebhookReplay:
        """Send the event (evt_...) again, now, to your endpoints subscribed to its type."""
        return self._call(routes.REPLAY_EVENT, WebhookReplay, path={"event_id": event_id})

    def replay_webhook_range(self, endpoint_id: str, since: datetime, until: datetime) -> WebhookReplay:
        """Send again, now, to this endpoint every event of yours made in [since, until)."""
        body = {"since": since.isoformat(), "until": until.isoformat()}
        return self._call(routes.REPLAY_RANGE, WebhookReplay, path={"endpoint_id": endpoint_id}, json=body)

    def acknowledge_webhook_event(self, event_id: str, ack: str) -> WebhookAck:
        """Acknowledge an event: stopped_processing, deleted or received (recorded in the access log)."""
        return self._call(routes.ACK_EVENT, WebhookAck, path={"event_id": event_id}, json={"ack": ack})

    # The one way out

    def _call(self, route: Route, model: type[M], *, path: Mapping[str, str] | None = None, **request: Any) -> M:
        if route.model is not model:
            raise TypeError(f"{route.path} answers {route.model.__name__}, not {model.__name__}")
        where = route.path.format_map({k: quote(v, safe="") for k, v in (path or {}).items()})
        try:
            reply = self._http.request(route.method, where, **request)
        except httpx.HTTPError as error:
            raise ServiceFailedError(f"{route.method} {route.path}: no answer ({type(error).__name__})") from error
        if reply.status_code == route.status:
            try:
                return model.model_validate_json(reply.content)
            except ValidationError as error:
                raise ServiceFailedError(f"{route.method} {route.path}: the reply does not match the API") from error
        problem = _problem(reply)
        if 400 <= reply.status_code < 500:
            raise RequestRefusedError(problem)
        raise ServiceFailedError(f"{route.method} {route.path}: {problem.status} {problem.detail}", problem)


def _problem(reply: httpx.Response) -> Problem:
    try:
        return Problem.model_validate_json(reply.content)
    except ValidationError:
        reason = reply.reason_phrase or "unexpected answer"
        return Problem(type="about:blank", title=reason, status=reply.status_code, detail=reason)
