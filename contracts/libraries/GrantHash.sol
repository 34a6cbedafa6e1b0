// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IConsentLedger} from "../interfaces/IConsentLedger.sol";

/// @title EIP-712 type hashes and struct hashes of Consent Ledger messages
/// @dev The type strings are written out so they cannot drift from the hashes; a test pins them.
/// A wallet shows a `Grant` as its fields: the purposes mask and one categories mask per purpose.
library GrantHash {
    bytes32 internal constant GRANT_TYPEHASH = keccak256(
        "Grant(address customer,address brand,uint64 purposes,uint64[] categoriesPerPurpose,uint40 expiresAt,"
        "bytes32 noticeHash,uint256 nonce,uint40 deadline)"
    );

    bytes32 internal constant REVOKE_TYPEHASH =
        keccak256("Revoke(address customer,address brand,uint256 nonce,uint40 deadline)");

    /// @dev hashStruct(Grant) per EIP-712, from its fields (read from calldata once by the caller).
    /// The `uint64[]` member is encoded as the keccak of its items, each as a 32-byte word: exactly
    /// its calldata, which `abi.encodePacked` copies as is.
    function hashGrant(
        address customer,
        address brand,
        uint64 purposes,
        uint64[] calldata categoriesPerPurpose,
        uint40 expiresAt,
        bytes32 noticeHash,
        uint256 nonce,
        uint40 deadline
    ) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                GRANT_TYPEHASH,
                customer,
                brand,
                purposes,
                keccak256(abi.encodePacked(categoriesPerPurpose)),
                expiresAt,
                noticeHash,
                nonce,
                deadline
            )
        );
    }

    /// @dev hashStruct(Grant) per EIP-712 of a whole request.
    function hash(IConsentLedger.GrantRequest calldata g) internal pure returns (bytes32) {
        return hashGrant(
            g.customer, g.brand, g.purposes, g.categoriesPerPurpose, g.expiresAt, g.noticeHash, g.nonce, g.deadline
        );
    }

    /// @dev hashStruct(Revoke) per EIP-712.
    function hash(IConsentLedger.RevokeRequest calldata r) internal pure returns (bytes32) {
        return keccak256(abi.encode(REVOKE_TYPEHASH, r.customer, r.brand, r.nonce, r.deadline));
    }
}
