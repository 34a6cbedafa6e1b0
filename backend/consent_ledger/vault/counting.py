"""The counting record (pure functions, no I/O): one customer's values in the counted categories, in one
row, so an aggregate reads one small row per customer instead of every field row.

Only the categories an aggregate bins are kept twice: `COUNTED_CATEGORIES`, categorical and not
sensitive, each a column of the customer's `customer_keys` row (models.CustomerKey), next to the wrapped
key it is sealed under. A column is NULL or the JSON list of the values of the customer's fields in that
category (in field-name order), sealed on its own under the counting key with associated data
customer | category (crypto.seal_segment): a query opens only the columns of the categories it asks
about, for the customers whose grant covers them, and a value cannot be moved to another customer or to
another category's column. The columns must never be copied out of the key row: erasure deletes that row,
and that deletion is what removes them (see crypto.py for why they are not under the customer's key).

`COUNTS_VERSION` names this layout: change the encoding or the list and bump it (a new column needs a
migration), and `Vault.counting.rebuild_counts` rebuilds every record at the next start-up.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from consent_ledger.vault.crypto import MasterKey, seal_segment
from consent_ledger.vault.errors import TamperedError

COUNTS_VERSION = 1
COUNTED_CATEGORIES: dict[str, str] = {  # category -> its column in customer_counts
    "demographic.age_range": "age_range",
    "demographic.gender": "gender",
    "interests": "interests",
    "location.coarse": "location_coarse",
}


def is_counted(category: str) -> bool:
    return category in COUNTED_CATEGORIES


def seal_record(master: MasterKey, customer: str, values: Mapping[str, Sequence[str]]) -> dict[str, bytes | None]:
    """{column: sealed values or None} of `values` {counted category: `customer`'s values in it}."""
    record: dict[str, bytes | None] = {}
    for category, column in COUNTED_CATEGORIES.items():
        held = values.get(category)
        plaintext = json.dumps(list(held), ensure_ascii=False).encode("utf-8") if held else None
        record[column] = None if plaintext is None else seal_segment(master, customer, category, plaintext)
    return record


def decode_values(plaintext: bytes) -> tuple[str, ...]:
    """The values of an opened segment; `TamperedError` if it is not a JSON list of strings (it
    authenticated, so only a bug or a wrong layout version gets here)."""
    try:
        values = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TamperedError("an opened counting segment is not a JSON list") from error
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise TamperedError("an opened counting segment is not a list of strings")
    return tuple(values)
