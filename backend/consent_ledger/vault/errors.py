"""The vault's errors, all under `consent_ledger.errors.LedgerError`.

Bad input (unknown category, malformed address, oversized value) raises the shared `InputError`; a short or
malformed master key raises the shared `ConfigError`; a customer the vault holds nothing for raises the shared
`NotFoundError`.
"""

from __future__ import annotations

from consent_ledger.errors import LedgerError


class VaultError(LedgerError):
    """The customer data vault refused or failed an operation."""


class ErasedError(VaultError):
    """The customer's data was erased (GDPR art. 17); the vault accepts no new data for them."""


class CryptoError(VaultError):
    """Encryption or decryption failed."""


class TamperedError(CryptoError):
    """A ciphertext or wrapped key failed authentication: altered, moved to another customer/field, or wrong key."""


class WrongMasterKeyError(CryptoError):
    """A data key was wrapped by a different master key than the one configured."""
