// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Consent Ledger interface
/// @notice Customers record which brand may use which categories of their data for each purpose,
/// until when. A grant names, purpose by purpose, the categories allowed for that purpose; one expiry,
/// one notice and one signature cover them all. Nothing personal is ever stored or emitted: only
/// addresses, bitmasks, times, nonces and the hash of the privacy notice.
/// @dev Limits: purposes are numbered 0..63 and categories are 64-bit masks (bit meanings live in the
/// off-chain, versioned catalog); a grant lasts at most `MAX_GRANT_DURATION`; times are uint40 seconds;
/// the per-(customer, brand) nonce is stored in 48 bits (2^48 grants or revocations per pair).
/// Storage: one header word per (customer, brand), written with one SSTORE (bits 0-47 the nonce,
/// 48-87 the expiry, 88-127 the grant time, 128-191 the purposes mask, 192-255 the categories of the
/// grant's first, lowest, purpose), plus one slot per further purpose of the grant.
interface IConsentLedger {
    /*//////////////////////////////////////////////////////////////
                                 TYPES
    //////////////////////////////////////////////////////////////*/

    /// @notice The categories a grant allows for one purpose (EIP-712 `PurposeTerms`).
    /// @dev `purpose` is the purpose's number (0..63, its bit in the catalog); `categories` a mask.
    struct PurposeTerms {
        uint8 purpose;
        uint64 categories;
    }

    /// @notice The state of one (customer, brand) pair as the views return it.
    /// @dev `expiresAt == 0` means no active grant (never granted, or revoked); `terms` is empty then.
    struct GrantState {
        PurposeTerms[] terms;
        uint40 expiresAt;
        uint40 grantedAt;
        uint48 nonce;
    }

    /// @notice The EIP-712 `Grant` message a customer signs. `purposes` is the mask of the purposes
    /// granted (bit i is purpose i); `categoriesPerPurpose` holds, for each of them in ascending order
    /// of purpose, the categories allowed for it (one entry per bit of `purposes`).
    struct GrantRequest {
        address customer;
        address brand;
        uint64 purposes;
        uint64[] categoriesPerPurpose;
        uint40 expiresAt;
        bytes32 noticeHash;
        uint256 nonce;
        uint40 deadline;
    }

    /// @notice The EIP-712 `Revoke` message a customer signs.
    struct RevokeRequest {
        address customer;
        address brand;
        uint256 nonce;
        uint40 deadline;
    }

    /// @notice A signed grant inside a batch.
    struct SignedGrant {
        GrantRequest request;
        bytes signature;
    }

    /// @notice A signed revocation inside a batch.
    struct SignedRevoke {
        RevokeRequest request;
        bytes signature;
    }

    /// @notice One question for the batch view: does `customer` allow `brand` all these bits?
    struct Query {
        address customer;
        address brand;
        uint64 categories;
        uint64 purposes;
    }

    /// @notice Why a batch item was skipped (carried by the rejection events).
    enum Rejection {
        None,
        SignatureExpired,
        InvalidNonce,
        InvalidSignature,
        ZeroBrand,
        NoCategories,
        NoPurposes,
        ExpiryInPast,
        ExpiryTooFar,
        TermsMismatch
    }

    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice `customer` granted `brand` the terms packed in `header`, the pair's stored header word:
    /// bits 0-47 the pair's next nonce (the grant consumed the one before it), 48-87 the expiry,
    /// 88-127 the grant time, 128-191 the purposes mask, 192-255 the categories allowed for the
    /// lowest purpose of the mask. The grant replaced any earlier one for this pair. A grant of more
    /// than one purpose is followed, in the same transaction, by `FurtherPurposesGranted`.
    event Granted(address indexed customer, address indexed brand, uint256 header, bytes32 noticeHash);

    /// @notice Emitted right after `Granted` when the grant covers more than one purpose: `categories`
    /// holds, for each purpose of the header's mask after the lowest, in ascending order, the
    /// categories allowed for it.
    event FurtherPurposesGranted(address indexed customer, address indexed brand, uint64[] categories);

    /// @notice `customer` revoked whatever `brand` was allowed; `nonce` is the nonce consumed.
    event Revoked(address indexed customer, address indexed brand, uint256 nonce);

    /// @notice A signed grant in a batch was skipped; the rest of the batch went on.
    event GrantRejected(address indexed customer, address indexed brand, uint256 nonce, Rejection reason);

    /// @notice A signed revocation in a batch was skipped; the rest of the batch went on.
    event RevokeRejected(address indexed customer, address indexed brand, uint256 nonce, Rejection reason);

    /// @notice `custodian` anchored the root of its access log at `size` leaves.
    event Anchored(address indexed custodian, bytes32 root, uint64 size);

    /*//////////////////////////////////////////////////////////////
                                 ERRORS
    //////////////////////////////////////////////////////////////*/

    /// @notice The signed message's deadline has passed.
    error ConsentLedgerSignatureExpired(uint40 deadline, uint256 timestamp);

    /// @notice The message carries a nonce other than the pair's current one (replay or out of order).
    error ConsentLedgerInvalidNonce(address customer, address brand, uint256 expected, uint256 provided);

    /// @notice The signature is malformed, malleable (high s), or not from `customer`
    /// (neither by ECDSA nor by the customer's EIP-1271 wallet).
    error ConsentLedgerInvalidSignature(address customer, address brand);

    /// @notice A grant must name a brand.
    error ConsentLedgerZeroBrand(address customer);

    /// @notice Each purpose of a grant must allow at least one data category (revoke to withdraw
    /// everything); `index` is the offending entry of `categoriesPerPurpose`.
    error ConsentLedgerNoCategories(address customer, address brand, uint256 index);

    /// @notice A grant must cover at least one purpose.
    error ConsentLedgerNoPurposes(address customer, address brand);

    /// @notice `categoriesPerPurpose` must hold exactly one entry per purpose of the mask: the mask
    /// names `purposeCount` purposes, the list has `categoriesCount` entries.
    error ConsentLedgerTermsMismatch(address customer, address brand, uint256 purposeCount, uint256 categoriesCount);

    /// @notice Every grant expires, and not in the past.
    error ConsentLedgerExpiryInPast(uint40 expiresAt, uint256 timestamp);

    /// @notice Every grant expires within `MAX_GRANT_DURATION`: `expiresAt` is later than `latest`.
    error ConsentLedgerExpiryTooFar(uint40 expiresAt, uint256 latest);

    /// @notice An access log only grows: each anchor must cover more leaves than the last.
    error ConsentLedgerAnchorNotGrowing(address custodian, uint64 previousSize, uint64 size);

    /// @notice An anchored root cannot be zero (zero means "no anchor" in the views).
    error ConsentLedgerZeroRoot(address custodian, uint64 size);

    /*//////////////////////////////////////////////////////////////
                                 WRITES
    //////////////////////////////////////////////////////////////*/

    /// @notice Grant `brand`, for each purpose of `purposes`, the categories listed for it, until
    /// `expiresAt`, as the customer (msg.sender) directly. Replaces any earlier grant to this brand
    /// (narrowing is a new grant) and consumes the pair's nonce.
    /// @param brand The brand's address.
    /// @param purposes The purposes mask (bit i is purpose i); at least one bit.
    /// @param categoriesPerPurpose For each purpose of the mask, ascending, its categories (non-zero).
    /// @param expiresAt When the grant ends (unix seconds, in the future, within `MAX_GRANT_DURATION`).
    /// @param noticeHash Hash of the privacy notice the customer was shown.
    function grant(
        address brand,
        uint64 purposes,
        uint64[] calldata categoriesPerPurpose,
        uint40 expiresAt,
        bytes32 noticeHash
    ) external;

    /// @notice Revoke everything `brand` was allowed, as the customer (msg.sender) directly. No relayer
    /// can censor this path. Also invalidates any signed but unsubmitted message for this pair.
    /// @param brand The brand's address.
    function revoke(address brand) external;

    /// @notice Record a grant signed by `request.customer` (EIP-712 `Grant`); anyone may relay it.
    /// @param request The signed message.
    /// @param signature 65-byte ECDSA signature, or whatever the customer's EIP-1271 wallet accepts.
    function grantBySig(GrantRequest calldata request, bytes calldata signature) external;

    /// @notice Record a revocation signed by `request.customer` (EIP-712 `Revoke`); anyone may relay it.
    /// @param request The signed message.
    /// @param signature 65-byte ECDSA signature, or whatever the customer's EIP-1271 wallet accepts.
    function revokeBySig(RevokeRequest calldata request, bytes calldata signature) external;

    /// @notice Record many signed grants. An invalid item is skipped with a `GrantRejected` event and
    /// never reverts the others.
    /// @param items The signed grants, applied in order.
    /// @return accepted How many items were recorded.
    function grantBatchBySig(SignedGrant[] calldata items) external returns (uint256 accepted);

    /// @notice Record many signed revocations. An invalid item is skipped with a `RevokeRejected`
    /// event and never reverts the others.
    /// @param items The signed revocations, applied in order.
    /// @return accepted How many items were recorded.
    function revokeBatchBySig(SignedRevoke[] calldata items) external returns (uint256 accepted);

    /// @notice Anchor the caller's access-log root at `size` leaves. Each caller keeps its own log;
    /// there is no admin.
    /// @param root The log's root hash at `size` (RFC 9162 Merkle tree head).
    /// @param size Number of leaves; larger than the caller's previous anchor.
    function anchor(bytes32 root, uint64 size) external;

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @notice Whether `customer` currently allows `brand` every category of `categories` for every
    /// purpose of `purposes`.
    /// @param customer The customer's address.
    /// @param brand The brand's address.
    /// @param categories Bitmask of data categories asked for.
    /// @param purposes Bitmask of purposes asked for (bit i is purpose i); at least one.
    /// @return True when an unexpired grant covers each purpose asked for and allows, for each of
    /// them, all the categories asked for. False when `purposes` is zero.
    function isAllowed(address customer, address brand, uint64 categories, uint64 purposes)
        external
        view
        returns (bool);

    /// @notice `isAllowed` for many questions in one call.
    /// @param queries The questions.
    /// @return answers One answer per question, in order.
    function areAllowed(Query[] calldata queries) external view returns (bool[] memory answers);

    /// @notice The stored state of a (customer, brand) pair.
    /// @param customer The customer's address.
    /// @param brand The brand's address.
    /// @return The grant's terms, expiry, grant time and the pair's nonce (all zero or empty but the
    /// nonce when there is no grant).
    function grantOf(address customer, address brand) external view returns (GrantState memory);

    /// @notice The nonce the next grant or revocation for this pair must carry.
    /// @param customer The customer's address.
    /// @param brand The brand's address.
    /// @return The current nonce.
    function nonceOf(address customer, address brand) external view returns (uint256);

    /// @notice The EIP-712 digest a customer signs for `request`.
    /// @param request The grant message.
    /// @return The digest (domain separator included).
    function grantDigest(GrantRequest calldata request) external view returns (bytes32);

    /// @notice The EIP-712 digest a customer signs for `request`.
    /// @param request The revocation message.
    /// @return The digest (domain separator included).
    function revokeDigest(RevokeRequest calldata request) external view returns (bytes32);

    /// @notice The longest a grant may last: `expiresAt` is at most this many seconds after the block
    /// that records it.
    /// @return The bound in seconds.
    function MAX_GRANT_DURATION() external view returns (uint256);

    /// @notice The custodian's latest anchor.
    /// @param custodian The address that anchored.
    /// @return root The latest anchored root (zero when none).
    /// @return size Its size in leaves.
    /// @return anchoredAt When it was anchored.
    function latestAnchor(address custodian) external view returns (bytes32 root, uint64 size, uint40 anchoredAt);

    /// @notice The root the custodian anchored at exactly `size` leaves.
    /// @param custodian The address that anchored.
    /// @param size A size the custodian anchored.
    /// @return The root, or zero when the custodian never anchored at that size.
    function rootAt(address custodian, uint64 size) external view returns (bytes32);
}
