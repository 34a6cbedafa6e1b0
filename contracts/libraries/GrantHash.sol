// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IConsentLedger} from "../interfaces/IConsentLedger.sol";

/// @title EIP-712 type hashes and struct hashes of Consent Ledger messages
/// @dev The type strings are written out so they cannot drift from the hashes; a test pins them.
/// A wallet shows a `Grant` as its fields, `terms` as a list of (purpose, categories) pairs.
library GrantHash {
    bytes32 internal constant PURPOSE_TERMS_TYPEHASH = keccak256("PurposeTerms(uint8 purpose,uint64 categories)");

    bytes32 internal constant GRANT_TYPEHASH = keccak256(
        "Grant(address customer,address brand,PurposeTerms[] terms,uint40 expiresAt,bytes32 noticeHash,uint256 nonce,uint40 deadline)"
        "PurposeTerms(uint8 purpose,uint64 categories)"
    );

    bytes32 internal constant REVOKE_TYPEHASH =
        keccak256("Revoke(address customer,address brand,uint256 nonce,uint40 deadline)");

    /// @dev hashStruct(Grant) per EIP-712, given `termsHash = hash(g.terms)` (the caller has the
    /// terms decoded already; decoding them again from calldata would cost gas).
    function hash(IConsentLedger.GrantRequest calldata g, bytes32 termsHash) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                GRANT_TYPEHASH,
                g.customer,
                g.brand,
                termsHash,
                g.expiresAt,
                g.noticeHash,
                g.nonce,
                g.deadline
            )
        );
    }

    /// @dev The EIP-712 encoding of a `PurposeTerms[]` value: the keccak of its members' struct
    /// hashes, concatenated.
    /// One purpose, the common case, is hashed without building the concatenation in memory.
    function hash(IConsentLedger.PurposeTerms[] calldata terms) internal pure returns (bytes32) {
        if (terms.length == 1) {
            return keccak256(abi.encode(hash(terms[0])));
        }
        bytes memory encoded = "";
        for (uint256 i = 0; i < terms.length; ++i) {
            encoded = bytes.concat(encoded, hash(terms[i]));
        }
        return keccak256(encoded);
    }

    /// @dev hashStruct(PurposeTerms) per EIP-712.
    function hash(IConsentLedger.PurposeTerms calldata term) internal pure returns (bytes32) {
        return keccak256(abi.encode(PURPOSE_TERMS_TYPEHASH, term.purpose, term.categories));
    }

    /// @dev hashStruct(Revoke) per EIP-712.
    function hash(IConsentLedger.RevokeRequest calldata r) internal pure returns (bytes32) {
        return keccak256(abi.encode(REVOKE_TYPEHASH, r.customer, r.brand, r.nonce, r.deadline));
    }
}
