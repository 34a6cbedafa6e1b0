"""Leases: one holder per background job (relayer, anchorer, indexer) across processes and hosts.

A lease is a row (job name, holder, expiry, term) taken and renewed with one conditional UPDATE or
INSERT, judged by the database's clock. `current_leaders()` tells which replica leads which job.
"""

from consent_ledger.leases.lease import Lease, replica_id
from consent_ledger.leases.store import LeaseState, LeaseStore

__all__ = ["Lease", "LeaseState", "LeaseStore", "replica_id"]
