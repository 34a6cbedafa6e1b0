"""Turn revert data into our `ContractRevertError(name, args)`, using the contract's ABI."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eth_abi.abi import decode
from eth_utils.crypto import keccak

from consent_ledger.errors import ContractRevertError

_ERROR_STRING = "08c379a0"  # Error(string)
_PANIC = "4e487b71"  # Panic(uint256)


def _canonical_type(item: dict[str, Any]) -> str:
    kind = str(item["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in item["components"])
        return f"({inner}){kind[5:]}"
    return kind


class RevertDecoder:
    """Knows the custom errors of one ABI."""

    def __init__(self, abi: Iterable[dict[str, Any]]) -> None:
        self._errors: dict[str, tuple[str, list[str], list[str]]] = {}
        for item in abi:
            if item.get("type") != "error":
                continue
            types = [_canonical_type(i) for i in item["inputs"]]
            signature = f"{item['name']}({','.join(types)})"
            self._errors[keccak(text=signature)[:4].hex()] = (
                item["name"],
                [i["name"] for i in item["inputs"]],
                types,
            )

    def decode(self, data: str | bytes | None) -> ContractRevertError:
        raw = data.hex() if isinstance(data, bytes) else (data or "")
        raw = raw[2:] if raw.startswith("0x") else raw
        head, body = raw[:8], bytes.fromhex(raw[8:]) if len(raw) > 8 else b""
        if head in self._errors:
            name, names, types = self._errors[head]
            values = decode(types, body)
            return ContractRevertError(name, dict(zip(names, values, strict=True)), "0x" + raw)
        if head == _ERROR_STRING:
            return ContractRevertError("Error", {"message": decode(["string"], body)[0]}, "0x" + raw)
        if head == _PANIC:
            return ContractRevertError("Panic", {"code": decode(["uint256"], body)[0]}, "0x" + raw)
        return ContractRevertError("UnknownRevert", {"data": "0x" + raw}, "0x" + raw)
