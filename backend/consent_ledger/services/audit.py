"""Audit views over the access log, the indexed chain history and the release receipts.

Auditors see everything; customers only their own (the routes decide who may ask what). Proofs
are served against anchored roots, so a reader can check them against the chain themselves.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.addresses import checksum_address
from consent_ledger.audit.anchoring import Anchorer
from consent_ledger.audit.export_file import LogFile
from consent_ledger.audit.log import AccessLog
from consent_ledger.audit.verifier import ACK_WITHIN, verify_log
from consent_ledger.brands.registry import BrandRegistry
from consent_ledger.catalog import Catalog
from consent_ledger.chain.deploy import Deployment
from consent_ledger.chain.ledger import Ledger
from consent_ledger.errors import InputError, NotFoundError
from consent_ledger.indexer import queries
from consent_ledger.releases.models import ReleaseReceipt
from consent_ledger.services.consent_receipts import consent_receipt
from consent_ledger.services.history import HistoryView
from consent_ledger.vault import Vault


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


class AuditService:
    def __init__(
        self,
        log: AccessLog,
        anchorer: Anchorer,
        ledger: Ledger,
        deployment: Deployment,
        session_factory: sessionmaker[Session],
        catalog: Catalog,
        brands: BrandRegistry,
        custodians: Sequence[str] = (),
        *,
        vault: Vault | None = None,
        ack_within: int = ACK_WITHIN,
    ) -> None:
        """`custodians`: the addresses our backend sends transactions from (relayer, anchorer); a
        customer sees rejections sent by these or by themselves. `vault`: whose erasures the exported
        log declares; `ack_within`: the verifier's window for telling brands and their acknowledgements."""
        self.log = log
        self.anchorer = anchorer
        self.ledger = ledger
        self.deployment = deployment
        self._sessions = session_factory
        self.catalog = catalog
        self.brands = brands
        self.vault = vault
        self.ack_within = ack_within
        self.custodians = tuple(checksum_address(a) for a in (*custodians, anchorer.sender.address))
        self.events = HistoryView(session_factory, catalog)
        self._verification: dict[str, Any] | None = None
        self._verify_lock = threading.Lock()

    # ------------------------------------------------------------------ the log

    def tree_head(self) -> dict[str, Any]:
        anchor = self.log.latest_anchor()
        return {
            "chain_id": self.deployment.chain_id,
            "contract": self.deployment.address,
            "custodian": self.anchorer.sender.address,
            "log_size": self.log.size,
            "anchored": None if anchor is None else anchor.to_json(),
        }

    def _anchored_size(self, size: int | None) -> tuple[int, str]:
        if size is None:
            anchor = self.log.latest_anchor()
            if anchor is None:
                raise NotFoundError("nothing is anchored yet")
            return anchor.size, anchor.root
        return size, self.log.anchor_at(size).root

    def leaf_proof(self, index: int, size: int | None = None) -> dict[str, Any]:
        """A leaf with its inclusion proof to an anchored root (the latest, or the one at `size`)."""
        tree_size, root = self._anchored_size(size)
        if not 0 <= index < tree_size:
            raise InputError(f"leaf {index} is not in the tree of size {tree_size}")
        return {
            "index": index,
            "leaf": _hex(self.log.leaf(index)),
            "leaf_hash": _hex(self.log.leaf_hash(index)),
            "size": tree_size,
            "root": root,
            "proof": [_hex(p) for p in self.log.inclusion_proof(index, tree_size)],
        }

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        if not 0 < first <= second:
            raise InputError("sizes must satisfy 0 < first <= second")
        first_root, second_root = self.log.anchor_at(first).root, self.log.anchor_at(second).root
        proof = self.log.consistency_proof(first, second)
        return {
            "first": first,
            "second": second,
            "first_root": first_root,
            "second_root": second_root,
            "proof": [_hex(p) for p in proof],
        }

    # ------------------------------------------------------------------ receipts

    def _receipts(self, *, customer: str | None, brand: str | None, from_block: int | None, limit: int) -> list[Any]:
        query = select(ReleaseReceipt).order_by(ReleaseReceipt.block_number, ReleaseReceipt.released_at)
        if customer:
            query = query.where(ReleaseReceipt.customer == customer)
        if brand:
            query = query.where(ReleaseReceipt.brand == brand)
        if from_block is not None:
            query = query.where(ReleaseReceipt.block_number >= from_block)
        with self._sessions() as session:
            return list(session.scalars(query.limit(limit)))

    def accesses(self, customer: str) -> dict[str, Any]:
        """Who received the customer's data: every receipt with its leaf and a proof when anchored."""
        customer = checksum_address(customer)
        anchor = self.log.latest_anchor()
        receipts = self._receipts(customer=customer, brand=None, from_block=None, limit=10_000)
        leaves = self.log.leaves_of([r.id for r in receipts])
        anchored_size = anchor.size if anchor is not None else 0
        names = self.brands.all()
        proofs = self.log.inclusion_proofs(
            [index for index, _leaf in leaves.values() if index < anchored_size], anchored_size
        )
        entries = []
        for r in reversed(receipts):
            index, leaf = leaves.get(r.id, (None, None))
            anchored = index is not None and index < anchored_size
            entries.append(
                {
                    "receipt_id": r.id,
                    "brand": r.brand,
                    "brand_name": names.get(r.brand),
                    "categories": self.catalog.category_names(int(r.categories)),
                    "purposes": self.catalog.purpose_names(int(r.purposes)),
                    "fields": json.loads(r.fields),
                    "block_number": r.block_number,
                    "block_hash": r.block_hash,
                    "released_at": r.released_at.isoformat(),
                    "leaf_index": index,
                    "leaf": None if leaf is None else _hex(leaf),
                    "proof": [_hex(p) for p in proofs[index]] if anchored and index is not None else None,
                    "anchored": anchored,
                }
            )
        head = None if anchor is None else {k: v for k, v in anchor.to_json().items() if k != "custodian"}
        return {"tree_head": head, "accesses": entries}

    # ------------------------------------------------------------------ history

    def history(
        self,
        *,
        customer: str | None = None,
        brand: str | None = None,
        kinds: Sequence[str] | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        """The auditor's view: events (each with its sender) and releases in chain order; `next` is
        the cursor to pass back as `after` (see services/history.py)."""
        return self.events.page(customer=customer, brand=brand, kinds=kinds, after=after, limit=limit)

    def customer_history(
        self, customer: str, *, kinds: Sequence[str] | None = None, after: str | None = None, limit: int = 100
    ) -> dict[str, Any]:
        """A customer's own view: like `history`, but a rejection only when a custodian (our relayer)
        or the customer sent it; anyone else's junk items naming the customer are left out."""
        senders = {*self.custodians, checksum_address(customer)}
        return self.events.page(customer=customer, kinds=kinds, after=after, limit=limit, rejections_from=senders)

    def all_history(self, **filters: Any) -> list[dict[str, Any]]:
        return self.events.everything(**filters)

    def consent_receipts(self, customer: str | None = None) -> list[dict[str, Any]]:
        customer = checksum_address(customer) if customer else None
        names = self.brands.all()
        receipts = []
        after = None
        while True:
            rows = queries.history(
                self._sessions, customer=customer, kinds=["granted"], limit=queries.MAX_LIMIT, after_id=after
            )
            for row in rows:
                receipts.append(
                    consent_receipt(
                        row, self.catalog, names.get(row["brand"]), self.deployment.chain_id, self.deployment.address
                    )
                )
            if len(rows) < queries.MAX_LIMIT:
                return receipts
            after = rows[-1]["id"]

    # ------------------------------------------------------------------ verification

    def verification(self) -> dict[str, Any]:
        if self._verification is None:
            raise NotFoundError("no verification has run yet: POST /v1/audit/verification")
        return self._verification

    def export(self) -> LogFile:
        """The log as the custodian hands it to an auditor, with the vault's erasures (which are not on-chain)."""
        exported = self.log.export(
            self.deployment.chain_id,
            self.deployment.address,
            self.anchorer.sender.address,
            self.deployment.deploy_block,
        )
        if self.vault is not None:
            exported.erasures = [(customer, int(at.timestamp())) for customer, at in self.vault.erasures()]
        return exported

    def verify_now(self) -> dict[str, Any]:
        """Anchor what is pending, then run the independent verifier over the log as exported."""
        with self._verify_lock:
            self.anchorer.anchor_now()
            log = self.export()
            report = verify_log(self.ledger.rpc, log, ack_within=self.ack_within)
            self._verification = {
                "ran_at": datetime.now(UTC).isoformat(),
                "ok": report.ok,
                "summary": report.summary(),
                "violations": [v.to_json() for v in report.violations],
                "unverified": [u.to_json() for u in report.unverified],
                "unacknowledged": [u.to_json() for u in report.unacknowledged],
            }
            return self._verification
