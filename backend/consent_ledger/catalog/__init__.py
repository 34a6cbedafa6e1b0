"""The versioned data-category and purpose catalog, and the privacy notice customers sign the hash of."""

from consent_ledger.catalog.model import (
    Catalog,
    Category,
    Entry,
    Notice,
    Purpose,
    default_catalog,
    load_catalog,
)

__all__ = ["Catalog", "Category", "Entry", "Notice", "Purpose", "default_catalog", "load_catalog"]
