"""The audit log's errors, all under `consent_ledger.errors.ServerError`.

`ProofError`: a proof (or the index and sizes it is asked for) is malformed and cannot be checked at all.
`RootMismatchError`: a well-formed proof leads to another root than the one trusted: something was altered.
Both are faults of the log being checked, never of an API caller (the API checks indexes and sizes it is
given before asking for a proof): `AuditError` is a `ServerError`.
"""

from __future__ import annotations

from consent_ledger.errors import ServerError


class AuditError(ServerError):
    """The tamper-evident audit log refused or failed an operation."""


class ProofError(AuditError):
    """A proof or its parameters are malformed: wrong number of hashes, a hash of the wrong size, an index out of
    range, tree sizes out of order. Nothing was verified."""


class RootMismatchError(AuditError):
    """A proof was well formed but does not lead to the trusted root: the entry, the proof or the root was
    altered, or they come from different logs. `expected` is the trusted root, `computed` what the proof gives."""

    def __init__(self, expected: bytes, computed: bytes) -> None:
        self.expected = expected
        self.computed = computed
        super().__init__(
            f"Merkle root mismatch: expected {expected.hex()}, the proof leads to {computed.hex()}: "
            "do not trust this log entry; check that the proof, the entry and the root come from the same log"
        )
