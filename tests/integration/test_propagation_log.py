"""Version-3 leaves (propagation steps) in the real log: appended beside releases, anchored on-chain,
exported and verified by the independent verifier (counted per step); a tampered or unreadable v3 leaf
is caught like any other."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api_support import PROFILE
from consent_ledger.audit import export_file
from consent_ledger.audit.verifier import verify_log
from consent_ledger.cli.main import main
from consent_ledger.propagation.steps import PropagationStep, record_step

pytestmark = pytest.mark.chain


def _export(api, path: Path) -> Path:
    context = api.context
    context.anchorer.anchor_now()
    exported = context.access_log.export(
        context.deployment.chain_id,
        context.ledger.address,
        context.anchorer.sender.address,
        context.deployment.deploy_block,
    )
    export_file.write(path, exported)
    return path


@pytest.fixture
def logged(api, tmp_path):
    """One release, then the revocation's delivery and acknowledgement as v3 leaves; anchored and exported."""
    brand, brand_auth = api.brand()
    customer, auth = api.customer()
    api.client.put("/v1/me/data", json={"fields": PROFILE}, headers=auth)
    api.grant(customer, auth, brand.address, ["contact.email"], ["marketing.email"])
    api.relay()
    body = {"customers": [customer.address], "categories": ["contact.email"], "purpose": "marketing.email"}
    assert api.client.post("/v1/releases", json=body, headers=brand_auth).json()["released"]
    event = hashlib.sha256(f"chain:31337:0x{'ab' * 32}:0:{brand.address}".encode()).digest()
    now = datetime.now(UTC).replace(microsecond=0)
    with api.context.sessions() as session:
        told = record_step(
            session, PropagationStep.delivered("consent.revoked", event, customer.address, brand.address, now, now)
        )
        acked = record_step(
            session,
            PropagationStep.acknowledged(
                "consent.revoked",
                event,
                customer.address,
                brand.address,
                now,
                now + timedelta(seconds=2),
                "stopped_processing",
            ),
        )
        session.commit()
    assert (told, acked) == (1, 2)
    return _export(api, tmp_path / "log.jsonl")


def test_a_log_with_propagation_leaves_verifies(api, chain, logged, capsys) -> None:
    report = verify_log(api.context.ledger.rpc, export_file.read(logged))
    assert report.ok, [v.to_json() for v in report.violations]
    assert report.summary()["propagation_steps"] == {"acknowledged": 1, "delivered": 1}
    assert report.releases_checked == 1
    assert main(["audit", "verify", "--rpc", chain.rpc.url, "--log", str(logged)]) == 0
    assert "3 leaves, 1 on-chain anchors, 1 releases re-checked" in capsys.readouterr().out


def _tamper(path: Path, index: int, offset: int, value: int) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    leaf = bytearray.fromhex(rows[1 + index]["leaf"][2:])
    leaf[offset] = value
    rows[1 + index]["leaf"] = "0x" + leaf.hex()
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_a_changed_acknowledgement_breaks_the_anchored_root(api, logged) -> None:
    _tamper(logged, 2, 107, 0x03)  # "stopped_processing" rewritten as "received"
    report = verify_log(api.context.ledger.rpc, export_file.read(logged))
    assert {v.kind for v in report.violations} == {"anchor_root_mismatch"}


def test_an_unreadable_v3_leaf_is_a_structure_violation(api, logged) -> None:
    _tamper(logged, 1, 18, 0x09)  # no such event type
    report = verify_log(api.context.ledger.rpc, export_file.read(logged))
    assert "log_structure" in {v.kind for v in report.violations}
    assert [v.leaf for v in report.violations if v.kind == "log_structure"] == [1]
