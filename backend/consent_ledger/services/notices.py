"""What each brand was told of a customer's revocations and erasures, and what it acknowledged.

The customer sees, per brand, "told at ..., acknowledged at ..." with each step's leaf and its inclusion
proof to the latest anchored root (the page checks both); the auditor sees the brands that still owe an
acknowledgement, or were never told, and how long each notice has waited. Waiting is measured on the
chain's clock (its latest block's timestamp), the clock of the revocations themselves, as the verifier does.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.addresses import checksum_address
from consent_ledger.audit.log import AccessLog
from consent_ledger.audit.notices import Notice, Step, pending
from consent_ledger.brands.registry import BrandRegistry
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.propagation.steps import event_id_header
from consent_ledger.propagation.views import known_notices
from consent_ledger.vault import Vault


def _iso(stamp: int) -> str:
    return datetime.fromtimestamp(stamp, UTC).isoformat()


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


class NoticeService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        log: AccessLog,
        vault: Vault,
        brands: BrandRegistry,
        rpc: RpcClient,
    ) -> None:
        self._sessions = sessions
        self.log = log
        self.vault = vault
        self.brands = brands
        self.rpc = rpc

    def _chain_now(self) -> int:
        return int(str(self.rpc.get_block("latest")["timestamp"]), 16)

    def customer_notices(self, customer: str) -> dict[str, Any]:
        """The customer's revocations and erasures, per brand, each step with its leaf and proof."""
        customer = checksum_address(customer)
        found = known_notices(self._sessions, self.vault.erasures([customer]), customer)
        anchor = self.log.latest_anchor()
        size = 0 if anchor is None else anchor.size
        steps = [s for n in found for s in (n.told, n.acknowledged) if s is not None]
        leaves = {s.index: self.log.leaf(s.index) for s in steps}
        proofs = self.log.inclusion_proofs([s.index for s in steps if s.index < size], size) if size else {}
        names = self.brands.all()

        def step_json(step: Step | None) -> dict[str, Any] | None:
            if step is None:
                return None
            leaf = step.leaf
            proof = proofs.get(step.index)
            return {
                "step": leaf.step,
                "event_type": leaf.event_type,
                "event_id": event_id_header(leaf.event_id),
                "brand": leaf.brand,
                "occurred_at": _iso(leaf.occurred_at),
                "at": _iso(leaf.at),
                "ack": leaf.ack,
                "leaf_index": step.index,
                "leaf": _hex(leaves[step.index]),
                "proof": None if proof is None else [_hex(p) for p in proof],
                "anchored": proof is not None,
            }

        head = None if anchor is None else {k: v for k, v in anchor.to_json().items() if k != "custodian"}
        return {
            "tree_head": head,
            "notices": [
                {**self._notice_json(n, names), "told": step_json(n.told), "acknowledged": step_json(n.acknowledged)}
                for n in reversed(found)
            ],
        }

    @staticmethod
    def _notice_json(notice: Notice, names: dict[str, str]) -> dict[str, Any]:
        event_id = notice.event_id
        return {
            "event_type": notice.event_type,
            "brand": notice.brand,
            "brand_name": names.get(notice.brand),
            "occurred_at": _iso(notice.occurred_at),
            "block_number": notice.block_number,
            "tx_hash": notice.tx_hash,
            "owed": notice.owed,
            "event_id": None if event_id is None else event_id_header(event_id),
            "settled": notice.settled is not None,
        }

    def unacknowledged(self) -> dict[str, Any]:
        """Brands with revocations or erasures not yet acknowledged (or not told at all), longest wait first."""
        now = self._chain_now()
        waiting = pending(known_notices(self._sessions, self.vault.erasures()), now)
        names = self.brands.all()
        by_brand: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for late in sorted(waiting, key=lambda p: -p.waiting):
            told_at = late.notice.told_at
            by_brand[late.notice.brand].append(
                {
                    **self._notice_json(late.notice, names),
                    "customer": late.notice.customer,
                    "state": late.kind,
                    "told_at": None if told_at is None else _iso(told_at),
                    "waiting_seconds": late.waiting,
                }
            )
        brands = [
            {
                "brand": brand,
                "brand_name": names.get(brand),
                "not_told": sum(i["state"] == "not_told" for i in items),
                "unacknowledged": sum(i["state"] == "unacknowledged" for i in items),
                "longest_wait_seconds": items[0]["waiting_seconds"],
                "notices": items,
            }
            for brand, items in by_brand.items()
        ]
        brands.sort(key=lambda b: (-b["longest_wait_seconds"], b["brand"]))
        return {"as_of": _iso(now), "brands": brands}
