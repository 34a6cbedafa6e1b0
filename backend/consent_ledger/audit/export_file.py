"""The exported access log: a JSON-lines file an auditor can verify with nothing but a chain.

Line 1 is a header, then one line per leaf in index order, then one line per anchor the custodian
recorded:

    {"format": "consent-ledger-access-log", "version": 1, "chain_id": 31337, "contract": "0x..",
     "custodian": "0x..", "from_block": 1, "size": 3, "exported_at": "..."}
    {"type": "leaf", "index": 0, "leaf": "0x<153 bytes>"}
    {"type": "anchor", "size": 3, "root": "0x..", "tx_hash": "0x..", "block_number": 9}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from consent_ledger.audit.errors import AuditError

FORMAT = "consent-ledger-access-log"
VERSION = 1


@dataclass
class LogFile:
    chain_id: int
    contract: str
    custodian: str
    from_block: int
    leaves: list[tuple[int, bytes]] = field(default_factory=list)
    anchors: list[dict[str, Any]] = field(default_factory=list)


def write(path: Path, header: LogFile, leaves: Iterable[bytes], anchors: Iterable[dict[str, Any]]) -> int:
    """Write the file atomically; returns the number of leaves."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    count = 0
    with tmp.open("w") as out:
        rows: list[str] = []
        for index, leaf in enumerate(leaves):
            rows.append(json.dumps({"type": "leaf", "index": index, "leaf": "0x" + leaf.hex()}))
            count += 1
        head = {
            "format": FORMAT,
            "version": VERSION,
            "chain_id": header.chain_id,
            "contract": header.contract,
            "custodian": header.custodian,
            "from_block": header.from_block,
            "size": count,
            "exported_at": datetime.now(UTC).isoformat(),
        }
        out.write(json.dumps(head) + "\n")
        for row in rows:
            out.write(row + "\n")
        for anchor in anchors:
            out.write(json.dumps({"type": "anchor", **anchor}) + "\n")
    tmp.replace(path)
    return count


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


def read(path: Path) -> LogFile:
    """Parse the file; structural problems raise `AuditError`, content problems are the verifier's."""
    lines = _lines(path)
    try:
        _, head = next(lines)
    except StopIteration as exc:
        raise AuditError(f"{path} is empty") from exc
    if head.get("format") != FORMAT or head.get("version") != VERSION:
        raise AuditError(f"{path} is not a version-{VERSION} {FORMAT} file")
    try:
        log = LogFile(int(head["chain_id"]), str(head["contract"]), str(head["custodian"]), int(head["from_block"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise AuditError(f"{path}: incomplete header ({exc})") from exc
    for number, row in lines:
        kind = row.get("type")
        try:
            if kind == "leaf":
                log.leaves.append((int(row["index"]), bytes.fromhex(str(row["leaf"]).removeprefix("0x"))))
            elif kind == "anchor":
                log.anchors.append(row)
            else:
                raise AuditError(f"{path}:{number}: unknown line type {kind!r}")
        except (KeyError, ValueError, TypeError) as exc:
            raise AuditError(f"{path}:{number}: malformed {kind} line ({exc})") from exc
    return log
