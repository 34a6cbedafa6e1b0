"""Consent Ledger: customer-signed data-sharing grants on an EVM chain."""

__version__ = "0.1.0"
