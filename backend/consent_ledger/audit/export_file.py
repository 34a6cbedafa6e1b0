"""The exported access log: a JSON-lines file an auditor can verify with nothing but a chain.

Line 1 is a header, then one line per leaf in index order, then one line per anchor the custodian
recorded, then (version 2) the consistency proof the custodian serves between each two consecutive
anchors, then (version 3) one line per customer whose data the custodian erased, with its time (an
erasure is not on-chain: the verifier checks that every brand that received the data was told of it):

    {"format": "consent-ledger-access-log", "version": 3, "chain_id": 31337, "contract": "0x..",
     "custodian": "0x..", "from_block": 1, "size": 3, "exported_at": "..."}
    {"type": "leaf", "index": 0, "leaf": "0x<153 bytes>"}
    {"type": "anchor", "size": 3, "root": "0x..", "tx_hash": "0x..", "block_number": 9}
    {"type": "consistency", "first": 3, "second": 7, "proof": ["0x<32 bytes>", ...]}
    {"type": "erasure", "customer": "0x..", "erased_at": 1764662400}

Version-1 files (no consistency lines) are still read; the verifier then reports the proofs missing.
Version-1 and -2 files carry no erasures.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from consent_ledger.audit.errors import AuditError

FORMAT = "consent-ledger-access-log"
VERSION = 3
READABLE_VERSIONS = (1, 2, 3)


@dataclass
class LogFile:
    chain_id: int
    contract: str
    custodian: str
    from_block: int
    leaves: list[tuple[int, bytes]] = field(default_factory=list)
    anchors: list[dict[str, Any]] = field(default_factory=list)
    # (first size, second size) -> the custodian's consistency proof between those two anchors
    proofs: dict[tuple[int, int], list[bytes]] = field(default_factory=dict)
    # (customer, erased at in unix seconds): the custodian's erasures
    erasures: list[tuple[str, int]] = field(default_factory=list)


def write(path: Path, log: LogFile) -> int:
    """Write the file atomically; returns the number of leaves."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    head = {
        "format": FORMAT,
        "version": VERSION,
        "chain_id": log.chain_id,
        "contract": log.contract,
        "custodian": log.custodian,
        "from_block": log.from_block,
        "size": len(log.leaves),
        "exported_at": datetime.now(UTC).isoformat(),
    }
    with tmp.open("w") as out:
        out.write(json.dumps(head) + "\n")
        for index, leaf in log.leaves:
            out.write(json.dumps({"type": "leaf", "index": index, "leaf": "0x" + leaf.hex()}) + "\n")
        for anchor in log.anchors:
            out.write(json.dumps({"type": "anchor", **anchor}) + "\n")
        for (first, second), proof in log.proofs.items():
            row = {"type": "consistency", "first": first, "second": second, "proof": ["0x" + p.hex() for p in proof]}
            out.write(json.dumps(row) + "\n")
        for customer, erased_at in log.erasures:
            out.write(json.dumps({"type": "erasure", "customer": customer, "erased_at": erased_at}) + "\n")
    tmp.replace(path)
    return len(log.leaves)


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open() as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as exc:
                raise AuditError(f"{path}:{number}: not JSON") from exc
            if not isinstance(value, dict):
                raise AuditError(f"{path}:{number}: not a JSON object")
            yield number, value


def _hex(value: Any) -> bytes:
    return bytes.fromhex(str(value).removeprefix("0x"))


def read(path: Path) -> LogFile:
    """Parse the file; structural problems raise `AuditError`, content problems are the verifier's."""
    lines = _lines(path)
    try:
        _, head = next(lines)
    except StopIteration as exc:
        raise AuditError(f"{path} is empty") from exc
    if head.get("format") != FORMAT or head.get("version") not in READABLE_VERSIONS:
        raise AuditError(f"{path} is not a {FORMAT} file of version {' or '.join(map(str, READABLE_VERSIONS))}")
    try:
        log = LogFile(int(head["chain_id"]), str(head["contract"]), str(head["custodian"]), int(head["from_block"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise AuditError(f"{path}: incomplete header ({exc})") from exc
    for number, row in lines:
        kind = row.get("type")
        try:
            if kind == "leaf":
                log.leaves.append((int(row["index"]), _hex(row["leaf"])))
            elif kind == "anchor":
                log.anchors.append(row)
            elif kind == "consistency":
                log.proofs[(int(row["first"]), int(row["second"]))] = [_hex(p) for p in row["proof"]]
            elif kind == "erasure":
                log.erasures.append((str(row["customer"]), int(row["erased_at"])))
            else:
                raise AuditError(f"{path}:{number}: unknown line type {kind!r}")
        except (KeyError, ValueError, TypeError) as exc:
            raise AuditError(f"{path}:{number}: malformed {kind} line ({exc})") from exc
    return log
