"""The Python client for brands' servers: the brand API with an API key (`BrandClient`), and verifying the
webhooks Consent Ledger sends (`WebhookVerifier`)."""

from consent_ledger.client.brand import BrandClient, Question
from consent_ledger.client.errors import RequestRefusedError, ServiceFailedError, WebhookRejectedError
from consent_ledger.client.webhooks import VerifiedWebhook, WebhookVerifier

__all__ = [
    "BrandClient",
    "Question",
    "RequestRefusedError",
    "ServiceFailedError",
    "VerifiedWebhook",
    "WebhookRejectedError",
    "WebhookVerifier",
]
