"""Brands: the addresses registered as brands and the names people see (table and registry)."""
