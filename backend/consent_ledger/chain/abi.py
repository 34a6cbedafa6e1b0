"""Encode calls and decode results for one contract ABI with eth_abi (no web3.py contract object)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode, encode
from eth_utils.crypto import keccak

from consent_ledger.errors import ChainError


def canonical_type(item: dict[str, Any]) -> str:
    kind = str(item["type"])
    if kind.startswith("tuple"):
        inner = ",".join(canonical_type(c) for c in item["components"])
        return f"({inner}){kind[5:]}"
    return kind


@dataclass(frozen=True)
class Function:
    name: str
    selector: bytes
    inputs: list[str]
    outputs: list[str]

    def encode(self, args: Sequence[Any]) -> str:
        if len(args) != len(self.inputs):
            raise ChainError(f"{self.name} takes {len(self.inputs)} arguments, got {len(args)}")
        return "0x" + (self.selector + encode(self.inputs, list(args))).hex()

    def decode(self, result: str) -> tuple[Any, ...]:
        body = bytes.fromhex(result[2:] if result.startswith("0x") else result)
        return tuple(decode(self.outputs, body))


class ContractAbi:
    """Functions of one ABI by name (our contract has no overloads)."""

    def __init__(self, abi: Iterable[dict[str, Any]]) -> None:
        self.abi = list(abi)
        self._functions: dict[str, Function] = {}
        for item in self.abi:
            if item.get("type") != "function":
                continue
            inputs = [canonical_type(i) for i in item["inputs"]]
            outputs = [canonical_type(o) for o in item.get("outputs", [])]
            selector = keccak(text=f"{item['name']}({','.join(inputs)})")[:4]
            self._functions[item["name"]] = Function(item["name"], selector, inputs, outputs)

    def function(self, name: str) -> Function:
        try:
            return self._functions[name]
        except KeyError as exc:
            raise ChainError(f"the contract ABI has no function {name!r}") from exc
