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

    /// @dev The checks every grant passes, however it arrives. Returns the first failure, the
    /// purposes mask the terms name, and the index of the offending term (when a term is at fault).
    function check(address brand, IConsentLedger.PurposeTerms[] calldata terms, uint40 expiresAt)
        internal
        view
        returns (IConsentLedger.Rejection, uint64 purposes, uint256 index)
    {
        if (brand == address(0)) return (IConsentLedger.Rejection.ZeroBrand, 0, 0);
        if (terms.length == 0) return (IConsentLedger.Rejection.NoPurposes, 0, 0);
        uint256 count = terms.length;
        for (uint256 i = 0; i < count; ++i) {
            IConsentLedger.PurposeTerms calldata term = terms[i];
            uint8 purpose = term.purpose;
            // ascending and each once: no purpose at or above this one is in the mask yet
            if (purpose >= 64 || purposes >> purpose != 0) return (IConsentLedger.Rejection.InvalidPurpose, 0, i);
            if (term.categories == 0) return (IConsentLedger.Rejection.NoCategories, 0, i);
            purposes |= uint64(1) << purpose;
        }
        if (expiresAt <= block.timestamp) return (IConsentLedger.Rejection.ExpiryInPast, 0, 0);
        if (expiresAt > block.timestamp + MAX_GRANT_DURATION) return (IConsentLedger.Rejection.ExpiryTooFar, 0, 0);
        return (IConsentLedger.Rejection.None, purposes, 0);
    }

    /// @dev Reverts with the error of a failure `check` returned (never returns).
    function revertFor(
        IConsentLedger.Rejection reason,
        address customer,
        address brand,
        uint40 expiresAt,
        uint256 index
    ) internal view {
        if (reason == IConsentLedger.Rejection.ZeroBrand) revert IConsentLedger.ConsentLedgerZeroBrand(customer);
        if (reason == IConsentLedger.Rejection.NoPurposes) {
            revert IConsentLedger.ConsentLedgerNoPurposes(customer, brand);
        }
        if (reason == IConsentLedger.Rejection.InvalidPurpose) {
            revert IConsentLedger.ConsentLedgerInvalidPurpose(customer, brand, index);
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
}
