"""Consent receipts: one per on-chain grant, with the fields of the Kantara Initiative Consent
Receipt Specification 1.1 (the basis of ISO/IEC TS 27560), plus the on-chain reference that makes
each one checkable.

Sources: the indexed `Granted` event (who, whom, per purpose which categories, when, until, notice
hash, nonce, transaction) and the catalog (names, labels, DPV terms, CPRA sensitivity). Each purpose
of `services[].purposes[]` lists in `piiCategory` exactly the categories consented for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from consent_ledger.catalog import Catalog
from consent_ledger.domain import terms_from_json

VERSION = "KI-CR-v1.1.0"
COLLECTION_METHOD = "EIP-712 typed-data signature from the customer's own wallet, recorded on-chain"


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def consent_receipt(
    event: Mapping[str, Any], catalog: Catalog, brand_name: str | None, chain_id: int, contract: str
) -> dict[str, Any]:
    """The receipt of one indexed `granted` event (a dict as `indexer.queries.history` returns)."""
    terms = catalog.terms_names(terms_from_json(event["terms"]))
    purposes = [(catalog.purpose(t["purpose"]), t["categories"]) for t in terms]
    categories = [catalog.category(n) for n in catalog.category_names(int(event["categories"]))]
    sensitive = [c for c in categories if c.cpra_sensitive]
    controller = brand_name or event["brand"]
    return {
        "version": VERSION,
        "jurisdiction": "EU (GDPR) / US-CA (CCPA/CPRA)",
        "consentTimestamp": int(event["block_timestamp"]),
        "collectionMethod": COLLECTION_METHOD,
        "consentReceiptID": f"{chain_id}:{event['tx_hash']}:{event['log_index']}",
        "language": "en",
        "piiPrincipalId": event["customer"],
        "piiControllers": [{"piiController": controller, "onBehalf": False, "contact": event["brand"]}],
        "policyUrl": f"urn:consent-ledger:notice:{event['notice_hash']}",
        "services": [
            {
                "service": controller,
                "purposes": [
                    {
                        "purpose": p.label,
                        "purposeCategory": [p.name, p.dpv],
                        "consentType": "EXPLICIT",
                        "piiCategory": names,
                        "primaryPurpose": index == 0,
                        "termination": f"expires {_iso(int(event['expires_at']))}, or earlier on revocation",
                        "thirdPartyDisclosure": p.name == "sharing.third_party_sale",
                        "thirdPartyName": None,
                    }
                    for index, (p, names) in enumerate(purposes)
                ],
            }
        ],
        "sensitive": bool(sensitive),
        "spiCat": [c.name for c in sensitive],
        "expiresAt": _iso(int(event["expires_at"])),
        "noticeHash": event["notice_hash"],
        "onChain": {
            "chainId": chain_id,
            "contract": contract,
            "txHash": event["tx_hash"],
            "blockNumber": event["block_number"],
            "logIndex": event["log_index"],
            "nonce": event["nonce"],
        },
    }
