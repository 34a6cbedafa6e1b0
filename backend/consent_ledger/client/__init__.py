"""The Python client for brands' servers: verify the webhooks Consent Ledger sends (`WebhookVerifier`)."""

from consent_ledger.client.errors import RequestRefusedError, ServiceFailedError, WebhookRejectedError
from consent_ledger.client.webhooks import VerifiedWebhook, WebhookVerifier

__all__ = [
    "RequestRefusedError",
    "ServiceFailedError",
    "VerifiedWebhook",
    "WebhookRejectedError",
    "WebhookVerifier",
]
