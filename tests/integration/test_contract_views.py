"""Views, the EIP-1271 path, anchors, and agreement of our hand-made codecs with web3.py."""

from __future__ import annotations

import random

import pytest
from eth_abi import encode
from web3 import Web3
from web3.logs import DISCARD

from consent_ledger.chain import eip712
from consent_ledger.chain.events import Anchored, Granted, Rejected, Rejection, decode_logs
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.tx import TxSender
from consent_ledger.domain import PurposeTerms, Query, RevokeRequest, terms_from_wire, terms_of, uniform_terms
from consent_ledger.errors import ContractRevertError
from support import DAY, NOTICE, grant_request, new_account, sign_grant, sign_revoke

pytestmark = pytest.mark.chain


def test_python_digest_equals_contract_digest(chain, ledger: Ledger) -> None:
    rng = random.Random(7)
    for _ in range(5):
        request = grant_request(
            new_account().address,
            new_account().address,
            chain.now(),
            terms=terms_of((rng.randrange(64), rng.getrandbits(64) or 1) for _ in range(rng.randrange(1, 6))),
            nonce=rng.getrandbits(200),
        )
        assert eip712.grant_digest(ledger.domain(), request) == ledger.grant_digest(request)
        revoke = RevokeRequest(request.customer, request.brand, request.nonce, request.deadline)
        assert eip712.revoke_digest(ledger.domain(), revoke) == ledger.revoke_digest(revoke)


def test_domain_matches_eip5267(chain, ledger: Ledger) -> None:
    w3 = Web3(Web3.HTTPProvider(chain.rpc.url))
    contract = w3.eth.contract(address=ledger.address, abi=chain.artifacts["ConsentLedger"].abi)
    _fields, name, version, chain_id, verifying, _salt, _ext = contract.functions.eip712Domain().call()
    domain = ledger.domain().to_json()
    assert (name, version, chain_id, verifying) == (
        domain["name"],
        domain["version"],
        domain["chainId"],
        domain["verifyingContract"],
    )


def test_expired_grant_is_not_allowed(chain, ledger: Ledger, relayer: TxSender) -> None:
    customer, brand = new_account(), new_account().address
    request = grant_request(customer.address, brand, chain.now(), expires_in=DAY)
    ledger.grant_by_sig(relayer, request, sign_grant(ledger, customer, request))
    assert ledger.is_allowed(customer.address, brand, 1, 1)
    chain.travel(DAY + 1)
    assert not ledger.is_allowed(customer.address, brand, 1, 1)
    assert ledger.are_allowed([Query(customer.address, brand, 1, 1)]) == [False]
    assert ledger.grant_of(customer.address, brand).categories == request.categories  # kept, but expired


def test_batch_view_agrees_with_single_views(chain, ledger: Ledger, relayer: TxSender) -> None:
    rng = random.Random(2026)
    customers = [new_account() for _ in range(12)]
    brands = [new_account().address for _ in range(3)]
    now = chain.now()
    items = []
    for customer in customers:
        for brand in rng.sample(brands, 2):
            request = grant_request(
                customer.address,
                brand,
                now,
                terms=terms_of((rng.randrange(4), rng.getrandbits(8) or 1) for _ in range(rng.randrange(1, 4))),
                expires_in=rng.choice([100, 30 * DAY]),
            )
            items.append((request, sign_grant(ledger, customer, request)))
    ledger.grant_batch(relayer, items)
    chain.travel(200)  # some grants have expired now
    queries = [
        Query(rng.choice(customers).address, rng.choice(brands), rng.getrandbits(8), rng.getrandbits(4))
        for _ in range(400)
    ]
    block = chain.rpc.block_number()
    batch = ledger.are_allowed(queries, block)
    single = [ledger.is_allowed(q.customer, q.brand, q.categories, q.purposes, block) for q in queries]
    assert batch == single
    assert any(batch)
    assert not all(batch)
    now = int(chain.rpc.get_block(block)["timestamp"], 16)
    states = {(q.customer, q.brand): ledger.grant_of(q.customer, q.brand, block) for q in queries}
    assert [states[q.customer, q.brand].allows(q.categories, q.purposes, now) for q in queries] == batch

    w3 = Web3(Web3.HTTPProvider(chain.rpc.url))
    contract = w3.eth.contract(address=ledger.address, abi=chain.artifacts["ConsentLedger"].abi)
    as_tuples = [(q.customer, q.brand, q.categories, q.purposes) for q in queries]
    assert contract.functions.areAllowed(as_tuples).call(block_identifier=block) == batch

    by_brand = [q for q in queries if q.brand == brands[0]]
    rows = [(q.customer, q.categories, q.purposes) for q in by_brand]
    assert ledger.are_allowed_for_brand(brands[0], rows, block) == ledger.are_allowed(by_brand, block)


def test_batch_view_chunks_large_requests(chain, ledger: Ledger) -> None:
    queries = [Query(new_account().address, new_account().address, 1, 1) for _ in range(12_000)]
    assert ledger.are_allowed(queries) == [False] * 12_000


def test_batch_view_sizes_chunks_by_purposes_asked(chain, ledger: Ledger) -> None:
    """Questions naming many purposes read many slots: chunks are cut by gas, not by count."""
    customer, brand = new_account(), new_account().address
    chain.fund(customer.address)
    terms = tuple(PurposeTerms(p, 0b11 if p % 2 else 0b1) for p in range(64))
    ledger.grant(ledger.sender(customer.key), brand, terms, chain.now() + DAY, NOTICE)
    everything = 2**64 - 1
    queries = [Query(customer.address, brand, 1 + i % 3, everything) for i in range(6_000)]
    assert ledger.are_allowed(queries) == [q.categories == 1 for q in queries]  # 0b11 only for odd purposes
    # one brand, every question the same purposes (the insight query's case): the same cut, worked out once
    rows = [(q.customer, q.categories, q.purposes) for q in queries]
    assert ledger.are_allowed_for_brand(brand, rows) == [q.categories == 1 for q in queries]


def test_eip1271_wallet_signs_grants(chain, ledger: Ledger, relayer: TxSender) -> None:
    owner, brand = new_account(), new_account().address
    wallet_artifact = chain.artifacts["TestWallet"]
    deploy_data = wallet_artifact.bytecode + encode(["address"], [owner.address]).hex()
    wallet = relayer.transact(None, deploy_data).contract_address
    assert wallet
    wallet = Web3.to_checksum_address(wallet)

    request = grant_request(wallet, brand, chain.now())
    ledger.grant_by_sig(relayer, request, sign_grant(ledger, owner, request))  # the owner signs for the wallet
    assert ledger.is_allowed(wallet, brand, 1, 1)

    update = grant_request(wallet, brand, chain.now(), nonce=1)
    with pytest.raises(ContractRevertError, match="ConsentLedgerInvalidSignature"):
        ledger.grant_by_sig(relayer, update, sign_grant(ledger, new_account(), update))

    revoke = RevokeRequest(wallet, brand, 1, chain.now() + DAY)
    ledger.revoke_by_sig(relayer, revoke, sign_revoke(ledger, owner, revoke))
    assert not ledger.is_allowed(wallet, brand, 1, 1)


def test_anchor_per_custodian(chain, ledger: Ledger, relayer: TxSender) -> None:
    other_custodian = ledger.sender(new_account().key)
    chain.fund(other_custodian.address)
    root_a, root_b = bytes.fromhex("aa" * 32), bytes.fromhex("bb" * 32)
    (event,) = ledger.anchor(relayer, root_a, 10).events
    assert isinstance(event, Anchored)
    assert (event.custodian, event.root, event.size) == (
        relayer.address,
        "0x" + root_a.hex(),
        10,
    )
    ledger.anchor(relayer, root_b, 25)
    ledger.anchor(other_custodian, root_a, 3)  # each custodian has its own log
    root, size, anchored_at = ledger.latest_anchor(relayer.address)
    assert (root, size) == (root_b, 25)
    assert anchored_at > 0
    assert ledger.root_at(relayer.address, 10) == root_a
    assert ledger.root_at(relayer.address, 11) == b"\0" * 32
    assert ledger.latest_anchor(other_custodian.address)[:2] == (root_a, 3)

    with pytest.raises(ContractRevertError, match="ConsentLedgerAnchorNotGrowing") as caught:
        ledger.anchor(relayer, root_a, 25)
    assert caught.value.args_by_name == {"custodian": relayer.address.lower(), "previousSize": 25, "size": 25}
    with pytest.raises(ContractRevertError, match="ConsentLedgerZeroRoot"):
        ledger.anchor(relayer, b"\0" * 32, 30)


def test_event_decoder_agrees_with_web3(chain, ledger: Ledger, relayer: TxSender) -> None:
    brand, now = new_account().address, chain.now()
    customers = [new_account() for _ in range(4)]
    several = (PurposeTerms(1, 0b11), PurposeTerms(4, 0b100), PurposeTerms(9, 0b1000))
    items = [
        (grant_request(c.address, brand, now, terms=several if i % 2 else None), c) for i, c in enumerate(customers)
    ]
    signed = [(r, sign_grant(ledger, c, r)) for r, c in items]
    signed[2] = (signed[2][0], sign_grant(ledger, customers[0], signed[2][0]))
    result = ledger.grant_batch(relayer, signed)

    w3 = Web3(Web3.HTTPProvider(chain.rpc.url))
    contract = w3.eth.contract(address=ledger.address, abi=chain.artifacts["ConsentLedger"].abi)
    receipt = w3.eth.get_transaction_receipt(result.receipt.tx_hash)
    theirs_granted = contract.events.Granted().process_receipt(receipt, errors=DISCARD)
    theirs_further = {
        e["logIndex"]: e for e in contract.events.FurtherPurposesGranted().process_receipt(receipt, errors=DISCARD)
    }
    theirs_rejected = contract.events.GrantRejected().process_receipt(receipt, errors=DISCARD)
    ours = decode_logs(result.receipt.logs, ledger.address)
    ours_granted = [e for e in ours if isinstance(e, Granted)]
    ours_rejected = [e for e in ours if isinstance(e, Rejected)]
    assert len(ours_granted) == len(theirs_granted) == 3
    assert len(theirs_further) == 3  # every grant here has several purposes
    for mine, theirs in zip(ours_granted, theirs_granted, strict=True):
        args = theirs["args"]
        header = args["header"]
        further = theirs_further.get(theirs["logIndex"] + 1)
        categories = [header >> 192, *(further["args"]["categories"] if further else [])]
        purposes = header >> 128 & (2**64 - 1)
        assert (mine.customer, mine.brand, mine.terms) == (
            args["customer"],
            args["brand"],
            terms_from_wire(purposes, categories),
        )
        assert (mine.expires_at, mine.granted_at, mine.notice_hash, mine.nonce) == (
            header >> 48 & (2**40 - 1),
            header >> 88 & (2**40 - 1),
            "0x" + args["noticeHash"].hex(),
            (header & (2**48 - 1)) - 1,
        )
        assert mine.at.log_index == theirs["logIndex"]
        assert mine.at.block_number == theirs["blockNumber"]
    assert [e.terms for e in ours_granted] == [uniform_terms(0b111, 0b11), several, several]
    assert len(ours_rejected) == len(theirs_rejected) == 1
    assert int(ours_rejected[0].reason) == theirs_rejected[0]["args"]["reason"]


@pytest.mark.parametrize("wallet_name", ["GasBurnerWallet", "ChattyWallet"])
def test_a_hostile_wallet_cannot_sink_a_batch(chain, ledger: Ledger, relayer: TxSender, wallet_name: str) -> None:
    wallet = relayer.transact(None, chain.artifacts[wallet_name].bytecode).contract_address
    assert wallet
    wallet = Web3.to_checksum_address(wallet)
    brand, now = new_account().address, chain.now()
    honest = [new_account() for _ in range(3)]
    items = [(grant_request(c.address, brand, now), c) for c in honest]
    signed = [(r, sign_grant(ledger, c, r)) for r, c in items]
    hostile = grant_request(wallet, brand, now)
    signed.insert(1, (hostile, b"\x01" * 65))
    result = ledger.grant_batch(relayer, signed)
    assert result.receipt.status == 1
    rejected = [e for e in result.events if isinstance(e, Rejected)]
    assert [(e.customer, e.reason) for e in rejected] == [(wallet, Rejection.INVALID_SIGNATURE)]
    assert all(ledger.is_allowed(c.address, brand, 1, 1) for c in honest)
    assert result.receipt.gas_used < 3 * 40_000 + 400_000  # the wallet got a bounded share
