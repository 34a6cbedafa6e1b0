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
