"""The routes the client calls, each with the response model the server declares for it (one class,
imported from consent_ledger.apimodels by both; tests/unit/test_client_models.py checks each against the
app)."""

from __future__ import annotations

from dataclasses import dataclass

from consent_ledger.apimodels import base, brand, webhooks
from consent_ledger.apimodels.base import Reply


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    model: type[Reply]
    status: int = 200


CHECK = Route("POST", "/v1/permissions/check", brand.CheckAnswers)
SEGMENT = Route("GET", "/v1/segments", brand.Segment)
RELEASE = Route("POST", "/v1/releases", brand.Release)
RECEIPTS = Route("GET", "/v1/releases", base.ReleaseReceipts)
INSIGHT_BUDGET = Route("GET", "/v1/insights/budget", brand.InsightBudget)
_ENDPOINTS = "/v1/webhooks/endpoints"
_ENDPOINT = _ENDPOINTS + "/{endpoint_id}"
CREATE_ENDPOINT = Route("POST", _ENDPOINTS, webhooks.WebhookEndpointWithSecret, 201)
LIST_ENDPOINTS = Route("GET", _ENDPOINTS, webhooks.WebhookEndpoints)
GET_ENDPOINT = Route("GET", _ENDPOINT, webhooks.WebhookEndpoint)
UPDATE_ENDPOINT = Route("PATCH", _ENDPOINT, webhooks.WebhookEndpoint)
DELETE_ENDPOINT = Route("DELETE", _ENDPOINT, webhooks.WebhookEndpoint)
ROTATE_SECRET = Route("POST", _ENDPOINT + "/rotate-secret", webhooks.WebhookEndpointWithSecret)
ENABLE_ENDPOINT = Route("POST", _ENDPOINT + "/enable", webhooks.WebhookEndpoint)
WEBHOOK_KEYS = Route("GET", "/.well-known/consent-ledger/webhook-keys.json", webhooks.WebhookKeys)
_EVENTS = "/v1/webhooks/events"
_EVENT = _EVENTS + "/{event_id}"
WEBHOOK_ATTEMPTS = Route("GET", _ENDPOINT + "/attempts", webhooks.WebhookAttempts)
REPLAY_RANGE = Route("POST", _ENDPOINT + "/replay", webhooks.WebhookReplay)
WEBHOOK_EVENTS = Route("GET", _EVENTS, webhooks.WebhookEventPage)
REPLAY_EVENT = Route("POST", _EVENT + "/replay", webhooks.WebhookReplay)
ACK_EVENT = Route("POST", _EVENT + "/ack", webhooks.WebhookAck)

ROUTES = (
    CHECK,
    SEGMENT,
    RELEASE,
    RECEIPTS,
    INSIGHT_BUDGET,
    CREATE_ENDPOINT,
    LIST_ENDPOINTS,
    GET_ENDPOINT,
    UPDATE_ENDPOINT,
    DELETE_ENDPOINT,
    ROTATE_SECRET,
    ENABLE_ENDPOINT,
    WEBHOOK_KEYS,
    WEBHOOK_ATTEMPTS,
    REPLAY_RANGE,
    WEBHOOK_EVENTS,
    REPLAY_EVENT,
    ACK_EVENT,
)
