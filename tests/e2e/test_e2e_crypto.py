"""The page's own cryptography, run in the browser against Python references: RFC 9162 inclusion proofs
(WebCrypto SHA-256), the v1 and v3 access-log leaves, and the revoke(address) calldata."""

from __future__ import annotations

import hashlib
import json
import random
import re
import uuid
from datetime import UTC, datetime

import pytest
from e2e_support import ROOT
from eth_account import Account
from eth_utils.crypto import keccak

from consent_ledger.audit.leaf import ACKS, EVENT_TYPES, PropagationLeaf
from consent_ledger.catalog import default_catalog

pytestmark = pytest.mark.e2e


def _leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (RFC 9162 2.1.1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _mth(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return _leaf_hash(leaves[0])
    k = _split(len(leaves))
    return _node(_mth(leaves[:k]), _mth(leaves[k:]))


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 2.1.3.1, written straight from the definition."""
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return [*_path(m, leaves[:k]), _mth(leaves[k:])]
    return [*_path(m - k, leaves[k:]), _mth(leaves[:k])]


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


VERIFY_JS = """
async (cases) => {
  const m = await import("/js/merkle.js");
  const out = [];
  for (const c of cases) {
    out.push(await m.verifyEntry({ leaf: c.leaf, leafIndex: c.index, size: c.size, proof: c.proof, root: c.root }));
  }
  return out;
}
"""


def _rfc_verify(case: dict) -> bool:
    """RFC 9162 2.1.3.2, in Python: the reference the browser must agree with on every case."""
    index, size = case["index"], case["size"]
    if index >= size:
        return False
    fn, sn, r = index, size - 1, _leaf_hash(bytes.fromhex(case["leaf"][2:]))
    for p in (bytes.fromhex(h[2:]) for h in case["proof"]):
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and _hex(r) == case["root"]


def _cases() -> tuple[list[dict], list[bool]]:
    """Every leaf of small trees and some of larger ones, each with its true proof and tampered variants."""
    rng = random.Random(9162)
    cases: list[dict] = []
    for size in [*range(1, 18), 31, 32, 33, 100]:
        leaves = [rng.randbytes(153) for _ in range(size)]
        root = _mth(leaves)
        for index in range(size) if size <= 33 else rng.sample(range(size), 12):
            proof = list(map(_hex, _path(index, leaves)))
            good = {"leaf": _hex(leaves[index]), "index": index, "size": size, "proof": proof, "root": _hex(root)}
            assert _rfc_verify(good)
            tampered_leaf = leaves[index][:-1] + bytes([leaves[index][-1] ^ 1])
            must_fail = [{**good, "root": _hex(hashlib.sha256(root).digest())}, {**good, "leaf": _hex(tampered_leaf)}]
            if proof:
                flipped = "0x" + format(int(proof[0][2:4], 16) ^ 0x80, "02x") + proof[0][4:]
                must_fail += [{**good, "proof": [flipped, *proof[1:]]}, {**good, "proof": proof[:-1]}]
            must_fail.append({**good, "proof": [*proof, _hex(root)]})
            assert not any(map(_rfc_verify, must_fail))
            # A wrong index or size may or may not verify: whatever the reference says, the browser must say.
            others = [{**good, "index": index + 1}, {**good, "index": max(index - 1, 0)}, {**good, "size": size + 1}]
            cases += [good, *must_fail, *others]
    return cases, [_rfc_verify(c) for c in cases]


def test_inclusion_proofs_verify_in_the_browser_like_rfc_9162(open_page) -> None:
    page = open_page("/")
    cases, expected = _cases()
    assert len(cases) > 1000
    results = page.evaluate(VERIFY_JS, cases)
    wrong = [(c["index"], c["size"], e) for c, r, e in zip(cases, results, expected, strict=True) if r != e]
    assert wrong == []


LEAF_JS = """
async ({ leaf, entry, customer }) => {
  const { hexToBytes } = await import("/js/merkle.js");
  const { decodeLeaf, leafMismatches } = await import("/js/leaf.js");
  const catalog = await (await fetch("/v1/catalog")).json();
  const decoded = decodeLeaf(hexToBytes(leaf));
  const plain = Object.fromEntries(Object.entries(decoded).map(([k, v]) =>
    [k, typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? Array.from(v) : v]));
  return { decoded: plain, mismatches: await leafMismatches(decoded, entry, { customer, catalog }) };
}
"""


def test_access_log_leaf_decodes_and_matches_the_entry(open_page) -> None:
    catalog = default_catalog()
    customer, brand = Account.create().address, Account.create().address
    receipt = str(uuid.uuid4())
    categories, purposes = ["contact.email", "interests"], ["marketing.email"]
    released = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    fields = ["interests", "email", "e-mail.work"]
    block_hash = "0x" + "ab" * 32
    leaf = b"".join(
        [
            b"\x01",
            uuid.UUID(receipt).bytes,
            bytes.fromhex(customer[2:]),
            bytes.fromhex(brand[2:]),
            catalog.category_mask(categories).to_bytes(8, "big"),
            catalog.purpose_mask(purposes).to_bytes(8, "big"),
            (123456).to_bytes(8, "big"),
            bytes.fromhex(block_hash[2:]),
            int(released.timestamp()).to_bytes(8, "big"),
            hashlib.sha256(json.dumps(sorted(fields), separators=(",", ":")).encode()).digest(),
        ]
    )
    assert len(leaf) == 153
    entry = {
        "receipt_id": receipt,
        "brand": brand,
        "categories": categories,
        "purposes": purposes,
        "fields": fields,
        "block_number": 123456,
        "block_hash": block_hash,
        "released_at": released.isoformat(),
    }
    page = open_page("/")
    answer = page.evaluate(LEAF_JS, {"leaf": _hex(leaf), "entry": entry, "customer": customer})
    assert answer["mismatches"] == []
    decoded = answer["decoded"]
    assert decoded["receiptId"] == receipt
    assert decoded["customer"] == customer.lower()
    assert decoded["brand"] == brand.lower()
    assert decoded["categories"] == str(catalog.category_mask(categories))
    assert decoded["blockNumber"] == "123456"
    assert decoded["releasedAt"] == str(int(released.timestamp()))

    tampered = {
        **entry,
        "brand": customer,
        "fields": [*fields, "phone"],
        "purposes": ["marketing.sms"],
        "released_at": "2026-03-04T05:06:08+00:00",
    }
    answer = page.evaluate(LEAF_JS, {"leaf": _hex(leaf), "entry": tampered, "customer": customer})
    assert answer["mismatches"] == ["brand", "purposes", "release time", "field names"]


V3_JS = """
async ({ leaves, step, customer }) => {
  const { hexToBytes } = await import("/js/merkle.js");
  const { decodeAnyLeaf, propagationMismatches } = await import("/js/leaf.js");
  const out = [];
  for (const leaf of leaves) {
    try {
      const decoded = decodeAnyLeaf(hexToBytes(leaf));
      const plain = Object.fromEntries(
        Object.entries(decoded).map(([k, v]) => [k, typeof v === "bigint" ? v.toString() : v]));
      out.push({ decoded: plain, mismatches: step ? propagationMismatches(decoded, step, { customer }) : null });
    } catch (error) {
      out.push({ error: error.message });
    }
  }
  return out;
}
"""


def test_propagation_leaves_decode_in_the_browser_like_the_python_codec(open_page) -> None:
    customer, brand = Account.create().address, Account.create().address
    occurred = datetime(2026, 12, 2, 8, 0, 1, 250000, tzinfo=UTC)
    leaves = []
    for n, event_type in enumerate(EVENT_TYPES[1:]):
        for ack in (None, *ACKS[1:]):
            leaves.append(
                PropagationLeaf(
                    str(uuid.uuid4()),
                    "delivered" if ack is None else "acknowledged",
                    event_type,
                    hashlib.sha256(f"event {n}".encode()).digest(),
                    customer,
                    brand,
                    int(occurred.timestamp()),
                    int(occurred.timestamp()) + 7 + n,
                    ack,
                )
            )
    page = open_page("/")
    encoded = [_hex(leaf.encode()) for leaf in leaves]
    answers = page.evaluate(V3_JS, {"leaves": encoded, "step": None, "customer": customer})
    assert len(answers) == len(leaves) == 24
    for leaf, answer in zip(leaves, answers, strict=True):
        assert answer["decoded"] == {
            "version": 3,
            "leafId": leaf.leaf_id,
            "step": leaf.step,
            "eventType": leaf.event_type,
            "eventId": "evt_" + leaf.event_id.hex(),
            "customer": customer.lower(),
            "brand": brand.lower(),
            "occurredAt": str(leaf.occurred_at),
            "at": str(leaf.at),
            "ack": leaf.ack,
        }

    acked = leaves[len(ACKS) * 2 + 1]  # consent.revoked, stopped_processing
    shown = {
        "step": "acknowledged",
        "event_type": "consent.revoked",
        "event_id": "evt_" + acked.event_id.hex(),
        "brand": brand,
        "occurred_at": occurred.isoformat(),
        "at": datetime.fromtimestamp(acked.at, UTC).isoformat(),
        "ack": "stopped_processing",
    }
    (answer,) = page.evaluate(V3_JS, {"leaves": [_hex(acked.encode())], "step": shown, "customer": customer})
    assert answer["mismatches"] == []
    lie = {**shown, "ack": "deleted", "brand": customer, "at": "2026-12-02T09:00:00+00:00"}
    (answer,) = page.evaluate(V3_JS, {"leaves": [_hex(acked.encode())], "step": lie, "customer": customer})
    assert answer["mismatches"] == ["brand", "time", "acknowledgement"]

    good = acked.encode()
    broken = [good[:-1], good[:18] + b"\x09" + good[19:], good[:107] + b"\x00", good[:17] + b"\x00" + good[18:]]
    answers = page.evaluate(V3_JS, {"leaves": [_hex(b) for b in broken], "step": None, "customer": customer})
    assert all("error" in a for a in answers), answers


def test_revoke_calldata_matches_the_contract_abi(chain, open_page) -> None:
    abi = chain.artifacts["ConsentLedger"].abi
    (revoke,) = [f for f in abi if f.get("type") == "function" and f["name"] == "revoke"]
    signature = f"revoke({','.join(i['type'] for i in revoke['inputs'])})"
    assert signature == "revoke(address)"
    selector = "0x" + keccak(text=signature)[:4].hex()
    source = (ROOT / "backend/consent_ledger/web/js/grants.js").read_text()
    assert re.search(r'REVOKE_SELECTOR = "(0x[0-9a-f]{8})"', source).group(1) == selector
    brand = Account.create().address
    page = open_page("/")
    data = page.evaluate("async (b) => (await import('/js/grants.js')).revokeCalldata(b)", brand)
    assert data == selector + brand[2:].lower().rjust(64, "0")
