"""Brand API keys: made by a signed-in brand, scoped by permission, shown once, stored as a SHA-256 hash,
revocable, with the time of last use."""

from consent_ledger.apikeys.permissions import Permission
from consent_ledger.apikeys.store import API_KEY_PREFIX, ApiKeyError, ApiKeyStore, KeyIdentity, KeyRecord, NewKey

__all__ = ["API_KEY_PREFIX", "ApiKeyError", "ApiKeyStore", "KeyIdentity", "KeyRecord", "NewKey", "Permission"]
