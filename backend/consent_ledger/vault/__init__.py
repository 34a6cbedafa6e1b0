"""The customer data vault: field values under per-customer envelope encryption, released by granted category.

Start with `Vault` (store.py); the pure cryptography is in crypto.py, the tables in models.py, errors in errors.py.
"""

from consent_ledger.vault.crypto import MasterKey
from consent_ledger.vault.errors import (
    CryptoError,
    ErasedError,
    TamperedError,
    WrongMasterKeyError,
)
from consent_ledger.vault.store import FieldValue, Vault

__all__ = [
    "CryptoError",
    "ErasedError",
    "FieldValue",
    "MasterKey",
    "TamperedError",
    "Vault",
    "WrongMasterKeyError",
]
