"""The on-chain check in front of every release: one pinned block per request, fail closed.

A request is decided at one block, named by number and hash. Calls pin that block by hash
(EIP-1898, requireCanonical), so if it is reorganised away mid-request the node refuses and we
raise `ChainUncertainError` instead of mixing answers from two histories. Any failure to get an
answer is an error, never a "yes".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from consent_ledger.chain.ledger import Ledger
from consent_ledger.errors import ChainError, ChainUncertainError, RpcError


@dataclass(frozen=True, slots=True)
class BlockPin:
    """The block a decision was made at."""

    number: int
    hash: str
    timestamp: int

    def ref(self) -> dict[str, Any]:
        return {"blockHash": self.hash, "requireCanonical": True}


@dataclass(frozen=True, slots=True)
class CheckResult:
    pin: BlockPin
    answers: list[bool]


@dataclass(frozen=True, slots=True)
class ReleaseDecision:
    """For each customer, the subset of the requested category bits that the chain allows."""

    pin: BlockPin
    granted: dict[str, int]


def single_bits(mask: int) -> list[int]:
    return [1 << i for i in range(mask.bit_length()) if mask >> i & 1]


class Gatekeeper:
    """Answers permission questions for one brand at a time, at one pinned block."""

    def __init__(self, ledger: Ledger, confirmations: int = 0) -> None:
        self.ledger = ledger
        self.confirmations = confirmations

    def pin(self) -> BlockPin:
        """The newest block with the configured confirmations."""
        try:
            head = self.ledger.rpc.block_number()
            block = self.ledger.rpc.get_block(max(head - self.confirmations, 0))
        except ChainError as error:
            raise ChainUncertainError(f"cannot pin a block: {error}") from error
        return BlockPin(int(block["number"], 16), str(block["hash"]), int(block["timestamp"], 16))

    def check_at(self, pin: BlockPin, brand: str, rows: Sequence[tuple[str, int, int]]) -> CheckResult:
        """`rows` holds (customer, categories, purposes); every answer is from `pin`."""
        try:
            answers = self.ledger.are_allowed_for_brand(brand, rows, pin.ref())
        except RpcError as error:
            raise ChainUncertainError(
                f"block {pin.number} ({pin.hash}) is no longer answerable: {error.args[0]}"
            ) from error
        except ChainError as error:
            raise ChainUncertainError(f"no reliable answer at block {pin.number}: {error}") from error
        return CheckResult(pin, answers)

    def check(self, brand: str, rows: Sequence[tuple[str, int, int]]) -> CheckResult:
        return self.check_at(self.pin(), brand, rows)

    def decide_release_at(
        self, pin: BlockPin, brand: str, customers: Sequence[str], categories: int, purposes: int
    ) -> ReleaseDecision:
        """Ask category by category, so each customer gets exactly the categories they granted."""
        bits = single_bits(categories)
        rows = [(customer, bit, purposes) for customer in customers for bit in bits]
        answers = self.check_at(pin, brand, rows).answers
        granted: dict[str, int] = {}
        for index, customer in enumerate(customers):
            mask = 0
            for offset, bit in enumerate(bits):
                if answers[index * len(bits) + offset]:
                    mask |= bit
            granted[customer] = mask
        return ReleaseDecision(pin, granted)

    def decide_release(self, brand: str, customers: Sequence[str], categories: int, purposes: int) -> ReleaseDecision:
        return self.decide_release_at(self.pin(), brand, customers, categories, purposes)
