"""Wallet libraries other than ours sign the served typed data verbatim, and the grant confirms.

MetaMask's eth-sig-util (`signTypedData` V4, MetaMask's own eth_signTypedData_v4), ethers v6 and viem
(pinned in package.json) each sign, in node, exactly the JSON `POST /v1/me/typed-data/grant` returned
for a two-purpose grant; the API accepts the signature, the relayer lands it, and the chain holds the
terms that were signed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from api_support import Api

pytestmark = pytest.mark.chain

SIGNER = Path(__file__).resolve().parents[1] / "js" / "sign_typed_data.mjs"
TERMS = [
    {"purpose": "marketing.email", "categories": ["contact.email", "interests"]},
    {"purpose": "tcf.measure_ad_performance", "categories": ["purchase_history"]},
]


def _sign(library: str, key: bytes, typed: dict) -> str:
    node = shutil.which("node")
    assert node, "node is needed (make setup installs it)"
    run = subprocess.run(
        [node, str(SIGNER), library, "0x" + key.hex()],
        input=json.dumps(typed),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=SIGNER.parents[2],
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


@pytest.mark.parametrize("library", ["eth-sig-util", "ethers", "viem"])
def test_signed_by_a_third_party_library(api: Api, library: str) -> None:
    brand, _ = api.brand()
    customer, auth = api.customer()
    typed = api.client.post("/v1/me/typed-data/grant", json={"brand": brand.address, "terms": TERMS}, headers=auth)
    assert typed.status_code == 200, typed.text
    served = typed.json()
    signature = _sign(library, bytes(customer.key), served)
    reply = api.client.post(
        "/v1/me/submissions", json={"kind": "grant", "message": served["message"], "signature": signature}, headers=auth
    )
    assert reply.status_code == 202, reply.text
    api.relay()
    assert api.client.get(f"/v1/me/submissions/{reply.json()['id']}", headers=auth).json()["status"] == "confirmed"
    state = api.context.ledger.grant_of(customer.address, brand.address)
    assert str(state.purposes) == served["message"]["purposes"]
    assert [str(t.categories) for t in state.terms] == served["message"]["categoriesPerPurpose"]
    assert len(state.terms) == 2  # both purposes, each with its own categories
