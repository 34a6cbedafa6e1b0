"""A brand's webhook endpoints (wallet sign-in, or an API key with webhooks:manage), and the public keys
that verify the installation's v1a signatures."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import Query, Response
from pydantic import BaseModel, ConfigDict, Field

from consent_ledger.api.deps import ContextDep, WebhooksManagerDep
from consent_ledger.api.openapi import EVERY_ROUTE, SIGNED_IN, Router, problems
from consent_ledger.apimodels import webhooks
from consent_ledger.apimodels.webhook_events import EVENT_TYPES
from consent_ledger.services.webhooks import WebhookService
from consent_ledger.webhooks.destinations import MAX_URL
from consent_ledger.webhooks.models import MAX_DESCRIPTION

ENDPOINTS = "/v1/webhooks/endpoints"
ONE = ENDPOINTS + "/{endpoint_id}"
EVENTS = "/v1/webhooks/events"
EVENT = EVENTS + "/{event_id}"
KEYS_CACHE = "public, max-age=300"
router = Router(tags=["webhooks"], responses=problems(*EVERY_ROUTE))
_MANAGED = problems(*SIGNED_IN, 422)
_ONE = problems(*SIGNED_IN, 404, 422)
_URL = Field(max_length=MAX_URL, description="https://... (http:// and private addresses only in development)")
_TYPES = Field(max_length=len(EVENT_TYPES), description="event types to send: " + ", ".join(EVENT_TYPES))


class NewEndpointBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = _URL
    event_types: list[str] = Field(min_length=1, max_length=len(EVENT_TYPES), description=_TYPES.description)
    description: str = Field(default="", max_length=MAX_DESCRIPTION, description="what receives them")


class EndpointChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(default=None, max_length=MAX_URL, description=_URL.description)
    event_types: list[str] | None = Field(default=None, min_length=1, max_length=len(EVENT_TYPES))
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)


class ReplayRange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: datetime = Field(description="ISO 8601 with a time zone: events made at or after this")
    until: datetime = Field(description="...and before this")


class AckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ack: Literal["stopped_processing", "deleted", "received"] = Field(
        description="stopped_processing (a revocation or expiry), deleted (an erasure), or received"
    )


_CURSOR = Query(default=None, max_length=100, description="the `next` of the previous page")
_LIMIT = Query(default=100, ge=1, le=500)


def _service(context: ContextDep) -> WebhookService:
    return context.webhooks


@router.post(
    ENDPOINTS,
    status_code=201,
    response_model=webhooks.WebhookEndpointWithSecret,
    responses=problems(409, *SIGNED_IN, 422),
)
def create(body: NewEndpointBody, principal: WebhooksManagerDep, context: ContextDep) -> dict[str, Any]:
    """A new endpoint; `secret` (for the v1 signatures) is in this answer only."""
    return _service(context).create(principal.address, body.url, body.event_types, body.description)


@router.get(ENDPOINTS, response_model=webhooks.WebhookEndpoints, responses=_MANAGED)
def endpoints(principal: WebhooksManagerDep, context: ContextDep) -> dict[str, Any]:
    """Your endpoints, oldest first, and the event types there are."""
    return _service(context).endpoints(principal.address)


@router.get(ONE, response_model=webhooks.WebhookEndpoint, responses=_ONE)
def endpoint(endpoint_id: str, principal: WebhooksManagerDep, context: ContextDep) -> dict[str, Any]:
    return _service(context).endpoint(principal.address, endpoint_id)


@router.patch(ONE, response_model=webhooks.WebhookEndpoint, responses=_ONE)
def update(
    endpoint_id: str, body: EndpointChanges, principal: WebhooksManagerDep, context: ContextDep
) -> dict[str, Any]:
    """Change the URL, the event types or the description (what is sent); the secret stays."""
    return _service(context).update(
        principal.address, endpoint_id, url=body.url, event_types=body.event_types, description=body.description
    )


@router.delete(ONE, response_model=webhooks.WebhookEndpoint, responses=_ONE)
def delete(endpoint_id: str, principal: WebhooksManagerDep, context: ContextDep) -> dict[str, Any]:
    """Delete the endpoint and its secrets: nothing more is sent to it. Answers the endpoint as it was."""
    return _service(context).delete(principal.address, endpoint_id)


@router.post(ONE + "/rotate-secret", response_model=webhooks.WebhookEndpointWithSecret, responses=_ONE)
def rotate_secret(endpoint_id: str, principal: WebhooksManagerDep, context: ContextDep) -> dict[str, Any]:
    """A new secret, in this answer only; the old one keeps signing (both v1 signatures are sent) for 24 h."""
    return _service(context).rotate(principal.address, endpoint_id)


@router.post(ONE + "/enable", response_model=webhooks.WebhookEndpoint, responses=_ONE)
def enable(endpoint_id: str, principal: WebhooksManagerDep, context: ContextDep) -> dict[str, Any]:
    """Enable an endpoint that was disabled (after deliveries kept failing); enabled already: no change."""
    return _service(context).enable(principal.address, endpoint_id)


@router.get(ONE + "/attempts", response_model=webhooks.WebhookAttempts, responses=_ONE)
def attempts(
    endpoint_id: str,
    principal: WebhooksManagerDep,
    context: ContextDep,
    cursor: str | None = _CURSOR,
    limit: int = _LIMIT,
) -> dict[str, Any]:
    """The endpoint's delivery log: each attempt (event, attempt number, time, status, latency, error),
    newest first."""
    return _service(context).attempts(principal.address, endpoint_id, cursor, limit)


@router.post(ONE + "/replay", response_model=webhooks.WebhookReplay, responses=_ONE)
def replay_range(
    endpoint_id: str, body: ReplayRange, principal: WebhooksManagerDep, context: ContextDep
) -> dict[str, Any]:
    """Send again, now, every event of yours made in [since, until) that this endpoint subscribes to
    (delivered or not; receivers deduplicate by webhook-id)."""
    return _service(context).replay_range(principal.address, endpoint_id, body.since, body.until)


@router.get(EVENTS, response_model=webhooks.WebhookEventPage, responses=_MANAGED)
def events(
    principal: WebhooksManagerDep,
    context: ContextDep,
    cursor: str | None = _CURSOR,
    limit: int = _LIMIT,
    type: str | None = Query(default=None, max_length=40, description="only events of this type"),
) -> dict[str, Any]:
    """Your webhook events, newest first, each with its delivery to each endpoint and your acknowledgement."""
    return _service(context).events(principal.address, cursor, limit, type)


@router.post(EVENT + "/replay", response_model=webhooks.WebhookReplay, responses=_ONE)
def replay_event(event_id: str, principal: WebhooksManagerDep, context: ContextDep) -> dict[str, Any]:
    """Send the event again, now, to each of your enabled endpoints subscribed to its type."""
    return _service(context).replay_event(principal.address, event_id)


@router.post(EVENT + "/ack", response_model=webhooks.WebhookAck, responses=_ONE)
def acknowledge(event_id: str, body: AckBody, principal: WebhooksManagerDep, context: ContextDep) -> dict[str, Any]:
    """Acknowledge an event (as a 2xx body {"ack": ...} would): recorded as a leaf of the access log, shown to
    the customer. The same acknowledgement again changes nothing."""
    return _service(context).acknowledge(principal.address, event_id, body.ack)


@router.get("/.well-known/consent-ledger/webhook-keys.json", response_model=webhooks.WebhookKeys, tags=["public"])
def webhook_keys(response: Response, context: ContextDep) -> dict[str, Any]:
    """The ed25519 public keys that verify the v1a signature of every webhook this installation sends."""
    response.headers["Cache-Control"] = KEYS_CACHE
    return _service(context).keys()
