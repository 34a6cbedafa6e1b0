"""The public stewardship page's figures, served: the chain read through `stewardship.source`, the leaves from
this installation's access log, and the pure `stewardship.figures.compute` that the report command runs too.

Recomputing reads every anchored leaf, so answers are kept per (brand, latest block, anchored size): a new
block or a new anchor gives new figures, and a page that reloads while the chain stands still costs nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from consent_ledger.addresses import checksum
from consent_ledger.audit.log import AccessLog
from consent_ledger.catalog import Catalog
from consent_ledger.chain.rpc import RpcClient
from consent_ledger.errors import InputError
from consent_ledger.stewardship import comparison, source, tables
from consent_ledger.stewardship.figures import compute, naming_of

CACHED_ANSWERS = 64
ADDRESS_LENGTH = 42


def brand_address(value: str) -> str:
    """A brand address from the URL, checksummed; `InputError` for anything that is not one."""
    body = value[2:] if value.startswith("0x") else ""
    if len(value) != ADDRESS_LENGTH or not all(c in "0123456789abcdefABCDEF" for c in body):
        raise InputError(f"invalid brand address {value[:60]!r}: expected 0x followed by 40 hex digits")
    return checksum(value)


class StewardshipService:
    def __init__(
        self, rpc: RpcClient, access_log: AccessLog, contract: str, custodian: str, from_block: int, catalog: Catalog
    ) -> None:
        self._rpc = rpc
        self._log = access_log
        self._contract = contract
        self._custodian = custodian
        self._from_block = from_block
        self._naming = naming_of(catalog)
        self._lock = threading.Lock()
        self._answers: OrderedDict[tuple[str, int, int], dict[str, Any]] = OrderedDict()

    def figures(self, brand: str, as_of_block: int | None = None) -> dict[str, Any]:
        """Every figure of `brand`'s page as of `as_of_block` (default: the latest block)."""
        address = brand_address(brand)
        if as_of_block is not None and as_of_block < 0:
            raise InputError("as_of must be a block number (0 or more)")
        facts = source.read_facts(self._rpc, self._contract, self._custodian, address, self._from_block, as_of_block)
        anchored = max((a.size for a in facts.anchors), default=0)
        key = (address, facts.as_of_block, anchored)
        with self._lock:
            if key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key]
        figures = compute(facts, self._log.leaves(0, anchored), self._naming)
        with self._lock:
            self._answers[key] = figures
            while len(self._answers) > CACHED_ANSWERS:
                self._answers.popitem(last=False)
        return figures

    def csv(self, brand: str, as_of_block: int | None = None) -> str:
        return tables.to_csv(self.figures(brand, as_of_block))

    def compare(self, brands: Sequence[str], as_of_block: int | None = None) -> dict[str, Any]:
        """Several brands' figures side by side, every one counted up to the same block (default: the latest,
        read once). Every address is checked before anything is read: too few or too many brands, a brand
        named twice or an invalid address is an `InputError`."""
        if not comparison.MIN_BRANDS <= len(brands) <= comparison.MAX_BRANDS:
            raise InputError(
                f"compare {comparison.MIN_BRANDS} to {comparison.MAX_BRANDS} brands (repeat brand=ADDRESS), "
                f"not {len(brands)}"
            )
        addresses = [brand_address(b) for b in brands]
        twice = sorted({a for a in addresses if addresses.count(a) > 1})
        if twice:
            raise InputError(f"each brand once: {', '.join(twice)} is named more than once")
        block = self._rpc.block_number() if as_of_block is None else as_of_block
        return comparison.combine([self.figures(a, block) for a in addresses])

    def compare_csv(self, brands: Sequence[str], as_of_block: int | None = None) -> str:
        return comparison.to_csv(self.compare(brands, as_of_block))
