"""Releases of customer data to brands, and their receipts."""
