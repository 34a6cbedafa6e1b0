"""The vault's errors, in the one hierarchy of `consent_ledger.errors`.

Bad input (unknown category, malformed address, oversized value) raises the shared `InputError`; a short or
malformed master key raises the shared `ConfigError`; a customer the vault holds nothing for raises the shared
`NotFoundError`. A ciphertext that fails authentication is our fault, never the caller's: `CryptoError`
is a `ServerError`.
"""

from __future__ import annotations

from consent_ledger.errors import GoneError, ServerError


class ErasedError(GoneError):
    """The customer's data was erased (GDPR art. 17); the vault accepts no new data for them."""


class CryptoError(ServerError):
    """Encryption or decryption failed: the stored data or the configured key is wrong, not the request."""


class TamperedError(CryptoError):
    """A ciphertext or wrapped key failed authentication: altered, moved to another customer/field, or wrong key."""


class WrongMasterKeyError(CryptoError):
    """A data key was wrapped by a different master key than the one configured."""
