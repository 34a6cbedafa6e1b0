"""The `consent-ledger` console script."""
