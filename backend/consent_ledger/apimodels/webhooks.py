"""A brand's webhook endpoints and the installation's webhook signing keys."""

from __future__ import annotations

from pydantic import Field

from consent_ledger.apimodels.base import Reply


class WebhookEndpoint(Reply):
    """An endpoint as lists show it: never its secret."""

    id: str = Field(description="the endpoint's id (a UUID)")
    url: str
    event_types: list[str] = Field(description="the event types sent to it")
    description: str
    enabled: bool = Field(description="false once disabled (see disabled_reason); POST .../enable turns it back on")
    created_at: str
    disabled_at: str | None = Field(description="when it was disabled; null while enabled")
    disabled_reason: str | None = Field(description="why, e.g. deliveries failing for days; null while enabled")
    failing_since: str | None = Field(description="start of the current run of failed deliveries; null if none")
    version: int = Field(description="grows with every change")


class WebhookEndpointWithSecret(WebhookEndpoint):
    """An endpoint just made, or given a new secret."""

    secret: str = Field(
        description="whsec_<base64>: verifies the v1 signatures; shown this once, never again: store it now"
    )
    previous_secret_expires_at: str | None = Field(
        description="after a rotation, the old secret still signs until then (24 h); null for a new endpoint"
    )


class WebhookEndpoints(Reply):
    endpoints: list[WebhookEndpoint] = Field(description="oldest first")
    event_types: list[str] = Field(description="the event types an endpoint can subscribe to")


class WebhookKey(Reply):
    id: str = Field(description="names the key (16 hex characters)")
    alg: str = Field(description="ed25519")
    public_key: str = Field(description="whpk_<base64 of the 32-byte public key>: verifies the v1a signatures")


class WebhookKeys(Reply):
    """The public keys whose v1a signatures a receiver should accept."""

    keys: list[WebhookKey]


class WebhookAttempt(Reply):
    """One attempt to deliver an event to an endpoint (the endpoint's delivery log)."""

    id: int = Field(description="grows with every attempt")
    event_id: str = Field(description="evt_ + 64 hex: the webhook-id sent")
    attempt: int = Field(description="1 for the first attempt of this delivery, then 2, 3, ...")
    at: str = Field(description="when the attempt ended")
    status_code: int | None = Field(description="the HTTP status answered; null when no answer came")
    latency_ms: int
    error: str | None = Field(description="why it failed; null for a 2xx")


class WebhookAttempts(Reply):
    attempts: list[WebhookAttempt] = Field(description="newest first")
    next: str | None = Field(description="the `cursor` of the next (older) page; null on the last")


class WebhookDeliveryState(Reply):
    """An event on its way to one of your endpoints."""

    endpoint_id: str
    state: str = Field(description="pending (retrying until next_attempt_at), delivered, or dead (a replay resends)")
    attempts: int
    next_attempt_at: str | None = Field(description="when it is tried again; null once delivered or dead")
    delivered_at: str | None
    last_error: str | None


class WebhookEventSummary(Reply):
    event_id: str = Field(description="evt_ + 64 hex")
    type: str
    customer: str
    occurred_at: str = Field(description="when its cause happened")
    created_at: str = Field(description="when the event was made")
    ack: str | None = Field(description="your latest acknowledgement; null if none")
    acknowledged_at: str | None
    deliveries: list[WebhookDeliveryState]


class WebhookEventPage(Reply):
    events: list[WebhookEventSummary] = Field(description="newest first")
    next: str | None = Field(description="the `cursor` of the next (older) page; null on the last")


class WebhookAck(Reply):
    """An acknowledgement stored, and the access-log leaf that records it."""

    event_id: str
    ack: str
    acknowledged_at: str
    leaf_index: int = Field(description="the acknowledged step's leaf in the access log (anchored on-chain)")


class WebhookReplay(Reply):
    queued: int = Field(description="deliveries queued to be sent again (now)")
