"""The vault's errors, all under `consent_ledger.errors.LedgerError` (to be merged into errors.py).

Bad input (unknown category, malformed address, oversized value) raises the shared `InputError`; a short or
malformed master key raises the shared `ConfigError`.
"""

from __future__ import annotations

from consent_ledger.errors import LedgerError


class VaultError(LedgerError):
    """The customer data vault refused or failed an operation."""


class NotFoundError(VaultError):
    """The vault holds nothing for this customer."""


class ErasedError(VaultError):
    """The customer's data was erased (GDPR art. 17); the vault accepts no new data for them."""


class CryptoError(VaultError):
    """Encryption or decryption failed."""


class TamperedError(CryptoError):
    """A ciphertext or wrapped key failed authentication: altered, moved to another customer/field, or wrong key."""


class WrongMasterKeyError(CryptoError):
    """A data key was wrapped by a different master key than the one configured."""
