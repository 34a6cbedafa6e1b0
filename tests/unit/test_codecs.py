"""Hand-made encoders and digests agree with eth_abi / eth-account; type strings are pinned."""

from __future__ import annotations

import random

import pytest
from eth_abi import decode, encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from eth_utils.address import to_checksum_address

from consent_ledger.addresses import checksum
from consent_ledger.chain import calldata, eip712
from consent_ledger.domain import (
    GrantRequest,
    PurposeTerms,
    Query,
    RevokeRequest,
    terms_from_wire,
    terms_of,
    wire_terms,
)
from consent_ledger.errors import ChainError


def test_type_strings_are_pinned() -> None:
    assert eip712.GRANT_TYPE == (
        "Grant(address customer,address brand,uint64 purposes,uint64[] categoriesPerPurpose,uint40 expiresAt,"
        "bytes32 noticeHash,uint256 nonce,uint40 deadline)"
    )
    assert eip712.REVOKE_TYPE == "Revoke(address customer,address brand,uint256 nonce,uint40 deadline)"
    assert eip712.GRANT_TYPEHASH.hex() == keccak(text=eip712.GRANT_TYPE).hex()


def test_type_strings_match_the_solidity_library(project_root) -> None:
    source = (project_root / "contracts" / "libraries" / "GrantHash.sol").read_text()
    # the Grant type hash is keccak256 of two literals written one after the other, split after expiresAt
    first, second = eip712.GRANT_TYPE.split("expiresAt,")
    assert f'"{first}expiresAt,"\n        "{second}"' in source
    assert f'"{eip712.REVOKE_TYPE}"' in source


def test_wire_terms_round_trip() -> None:
    terms = (PurposeTerms(0, 1), PurposeTerms(5, 6), PurposeTerms(63, 2**64 - 1))
    assert wire_terms(reversed(terms)) == (1 | 1 << 5 | 1 << 63, (1, 6, 2**64 - 1))
    assert terms_from_wire(*wire_terms(terms)) == terms
    # a purpose named twice keeps both masks: one more than the mask has bits, which the contract refuses
    assert wire_terms((PurposeTerms(2, 1), PurposeTerms(2, 4))) == (4, (1, 4))
    with pytest.raises(ValueError, match="1 purposes but 2"):
        terms_from_wire(4, (1, 4))


def _random_grant(rng: random.Random) -> GrantRequest:
    return GrantRequest(
        Account.create().address,
        Account.create().address,
        terms_of((rng.randrange(64), rng.getrandbits(64)) for _ in range(rng.randrange(0, 5))),
        rng.getrandbits(40),
        rng.randbytes(32),
        rng.getrandbits(256),
        rng.getrandbits(40),
    )


def test_digest_equals_eth_account_typed_data() -> None:
    rng = random.Random(1)
    domain = eip712.Domain(rng.getrandbits(32), Account.create().address)
    for _ in range(20):
        grant = _random_grant(rng)
        signable = encode_typed_data(full_message=eip712.grant_typed_data(domain, grant))
        assert keccak(b"\x19" + signable.version + signable.header + signable.body) == eip712.grant_digest(
            domain, grant
        )
        revoke = RevokeRequest(grant.customer, grant.brand, grant.nonce, grant.deadline)
        signable = encode_typed_data(full_message=eip712.revoke_typed_data(domain, revoke))
        assert keccak(b"\x19" + signable.version + signable.header + signable.body) == eip712.revoke_digest(
            domain, revoke
        )


def test_wallet_json_keeps_big_numbers_exact() -> None:
    terms = (PurposeTerms(63, 2**64 - 1),)
    grant = GrantRequest("0x" + "11" * 20, "0x" + "22" * 20, terms, 2**40 - 1, b"\1" * 32, 2**255, 5)
    message = eip712.grant_typed_data(eip712.Domain(31337, "0x" + "33" * 20), grant)["message"]
    assert message["purposes"] == str(2**63)
    assert message["categoriesPerPurpose"] == [str(2**64 - 1)]
    assert message["nonce"] == str(2**255)


def test_sign_and_recover_round_trip() -> None:
    account = Account.create()
    digest = keccak(b"anything")
    signature = eip712.sign_digest(account.key, digest)
    assert len(signature) == 65
    assert int.from_bytes(signature[32:64], "big") <= 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0
    assert eip712.recover_signer(digest, signature) == account.address


def test_are_allowed_calldata_equals_eth_abi() -> None:
    rng = random.Random(3)
    queries = [
        Query(Account.create().address, Account.create().address, rng.getrandbits(64), rng.getrandbits(64))
        for _ in range(50)
    ]
    expected = keccak(text="areAllowed((address,address,uint64,uint64)[])")[:4] + encode(
        ["(address,address,uint64,uint64)[]"],
        [[(q.customer, q.brand, q.categories, q.purposes) for q in queries]],
    )
    assert calldata.encode_are_allowed(queries) == "0x" + expected.hex()
    brand = queries[0].brand
    same_brand = [Query(q.customer, brand, q.categories, q.purposes) for q in queries]
    rows = [(q.customer, q.categories, q.purposes) for q in same_brand]
    assert calldata.encode_are_allowed_for_brand(brand, rows) == calldata.encode_are_allowed(same_brand)
    assert (
        calldata.encode_are_allowed([])
        == "0x" + (expected[:4] + encode(["(address,address,uint64,uint64)[]"], [[]])).hex()
    )


def test_bool_array_decoding_equals_eth_abi() -> None:
    rng = random.Random(4)
    values = [rng.random() < 0.5 for _ in range(100)]
    raw = "0x" + encode(["bool[]"], [values]).hex()
    assert calldata.decode_bool_array(raw, 100) == values == list(decode(["bool[]"], bytes.fromhex(raw[2:]))[0])


@pytest.mark.parametrize(
    "raw",
    [
        "0x",
        "0x" + encode(["bool[]"], [[True]]).hex(),  # wrong count for the 2 expected below
        "0x" + encode(["uint256[]"], [[2, 0]]).hex(),  # not bools
        "0x" + encode(["uint256[]"], [[1, 257]]).hex(),  # not bools, though each word ends in 0 or 1
        "0x" + encode(["bool[]"], [[True, False]]).hex()[:-2] + "zz",  # not hex
        "0x" + encode(["bool[]"], [[True, False]]).hex()[:-2],  # truncated
    ],
)
def test_bool_array_decoding_refuses_odd_answers(raw: str) -> None:
    with pytest.raises(ChainError):
        calldata.decode_bool_array(raw, 2)


def test_bad_address_in_calldata() -> None:
    with pytest.raises(ChainError):
        calldata.encode_are_allowed([Query("0x1234", "0x" + "11" * 20, 1, 1)])


def test_fast_checksum_equals_eth_utils() -> None:
    for _ in range(300):
        address = Account.create().address
        for spelling in (address, address.lower(), "0x" + address[2:].upper()):
            assert checksum(spelling) == to_checksum_address(spelling)
