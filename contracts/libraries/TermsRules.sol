// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IConsentLedger} from "../interfaces/IConsentLedger.sol";

/// @title The rules a grant's per-purpose terms must follow, and the bit arithmetic over purposes
/// @dev Pure and view helpers of `ConsentLedger`, inlined into it (all functions are internal). The
/// contract decides with `check`, which names the first failure instead of reverting, so that a
/// batch can refuse one item and carry on; a single call turns that failure into its error with
/// `revertFor`.
library TermsRules {
    /// @dev The longest a grant may last from the block that records it.
    uint256 internal constant MAX_GRANT_DURATION = 730 days;

    /// @dev The checks every grant passes, however it arrives: a brand, at least one purpose, one
    /// non-zero categories mask per purpose of `purposes` (no more, no fewer), an expiry in the
    /// future and within `MAX_GRANT_DURATION`. Returns the first failure and, when an entry of
    /// `categories` is at fault, its index.
    function check(address brand, uint64 purposes, uint64[] calldata categories, uint40 expiresAt)
        internal
        view
        returns (IConsentLedger.Rejection, uint256 index)
    {
        if (brand == address(0)) return (IConsentLedger.Rejection.ZeroBrand, 0);
        if (purposes == 0) return (IConsentLedger.Rejection.NoPurposes, 0);
        uint256 count = categories.length;
        if (count == 1) {
            // the common case, without the loop: one purpose, one mask
            if (withoutLowestBit(purposes) != 0) return (IConsentLedger.Rejection.TermsMismatch, 0);
            if (categories[0] == 0) return (IConsentLedger.Rejection.NoCategories, 0);
        } else {
            uint64 rest = purposes;
            for (uint256 i = 0; i < count; ++i) {
                if (rest == 0) return (IConsentLedger.Rejection.TermsMismatch, 0); // more entries than purposes
                if (categories[i] == 0) return (IConsentLedger.Rejection.NoCategories, i);
                rest = withoutLowestBit(rest);
            }
            if (rest != 0) return (IConsentLedger.Rejection.TermsMismatch, 0); // fewer entries than purposes
        }
        if (expiresAt <= block.timestamp) return (IConsentLedger.Rejection.ExpiryInPast, 0);
        if (expiresAt > block.timestamp + MAX_GRANT_DURATION) return (IConsentLedger.Rejection.ExpiryTooFar, 0);
        return (IConsentLedger.Rejection.None, 0);
    }

    /// @dev Reverts with the error of a failure `check` returned (never returns); `count` is the
    /// length of the grant's `categoriesPerPurpose`.
    function revertFor(
        IConsentLedger.Rejection reason,
        address customer,
        address brand,
        uint64 purposes,
        uint256 count,
        uint40 expiresAt,
        uint256 index
    ) internal view {
        if (reason == IConsentLedger.Rejection.ZeroBrand) revert IConsentLedger.ConsentLedgerZeroBrand(customer);
        if (reason == IConsentLedger.Rejection.NoPurposes) {
            revert IConsentLedger.ConsentLedgerNoPurposes(customer, brand);
        }
        if (reason == IConsentLedger.Rejection.TermsMismatch) {
            revert IConsentLedger.ConsentLedgerTermsMismatch(customer, brand, bitCount(purposes), count);
        }
        if (reason == IConsentLedger.Rejection.NoCategories) {
            revert IConsentLedger.ConsentLedgerNoCategories(customer, brand, index);
        }
        if (reason == IConsentLedger.Rejection.ExpiryTooFar) {
            revert IConsentLedger.ConsentLedgerExpiryTooFar(expiresAt, block.timestamp + MAX_GRANT_DURATION);
        }
        revert IConsentLedger.ConsentLedgerExpiryInPast(expiresAt, block.timestamp);
    }

    /// @dev The lowest set bit of `mask` (zero for zero). Unchecked: `~mask + 1` is the two's
    /// complement negation, which wraps to zero exactly when `mask` is zero; the wrap is the intent.
    function lowestBit(uint64 mask) internal pure returns (uint64) {
        unchecked {
            return mask & (~mask + 1);
        }
    }

    /// @dev `mask` without its lowest set bit (zero for zero). Unchecked: for a zero `mask`,
    /// `mask - 1` wraps to all ones and the `&` with zero gives zero, which is the answer wanted.
    function withoutLowestBit(uint64 mask) internal pure returns (uint64) {
        unchecked {
            return mask & (mask - 1);
        }
    }

    /// @dev How many bits of `mask` are set.
    function bitCount(uint64 mask) internal pure returns (uint256 count) {
        while (mask != 0) {
            mask = withoutLowestBit(mask);
            ++count;
        }
    }
}
