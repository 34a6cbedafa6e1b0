// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";

import {IConsentLedger} from "./interfaces/IConsentLedger.sol";
import {GrantHash} from "./libraries/GrantHash.sol";
import {TermsRules} from "./libraries/TermsRules.sol";

/// @title Consent Ledger
/// @notice Customer-signed data-sharing grants, per purpose, and per-custodian access-log anchors.
/// Immutable and permissionless: no owner, no admin, no proxy.
/// @dev Storage per (customer, brand): one header slot holding the nonce, expiry, grant time, the
/// purposes mask and the categories of the grant's first (lowest) purpose, so a one-purpose grant is
/// one storage write, as is a revocation; each further purpose writes one slot of its own, keyed by
/// its bit. A new grant rewrites the header and every further purpose it names, so purpose slots
/// left by an earlier grant are never read again (the header's mask no longer names them, or the new
/// grant overwrote them) and need no clearing.
contract ConsentLedger is IConsentLedger, EIP712 {
    using GrantHash for GrantRequest;
    using GrantHash for RevokeRequest;
    using GrantHash for PurposeTerms[];

    /// @notice Gas given to a customer's EIP-1271 wallet to judge a signature. Bounded so that one
    /// wallet cannot burn a relayed batch's gas and sink everybody else's items with it.
    uint256 public constant ERC1271_GAS_LIMIT = 100_000;

    /// @inheritdoc IConsentLedger
    uint256 public constant MAX_GRANT_DURATION = TermsRules.MAX_GRANT_DURATION;

    /*//////////////////////////////////////////////////////////////
                                 STORAGE
    //////////////////////////////////////////////////////////////*/

    /// @dev One slot: 48 + 40 + 40 + 64 + 64 = 256 bits.
    struct Header {
        uint48 nonce;
        uint40 expiresAt;
        uint40 grantedAt;
        uint64 purposes;
        uint64 firstCategories;
    }

    struct Pair {
        Header header;
        mapping(uint64 purposeBit => uint64 categories) categories;
    }

    mapping(address customer => mapping(address brand => Pair)) private _pairs;

    mapping(address custodian => mapping(uint64 size => bytes32 root)) private _roots;

    mapping(address custodian => AnchorHead) private _heads;

    struct AnchorHead {
        uint64 size;
        uint40 anchoredAt;
    }

    constructor() EIP712("ConsentLedger", "1") {}

    /*//////////////////////////////////////////////////////////////
                                 WRITES
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IConsentLedger
    function grant(address brand, PurposeTerms[] calldata terms, uint40 expiresAt, bytes32 noticeHash) external {
        Pair storage pair = _pairs[msg.sender][brand];
        (Rejection reason, uint64 purposes, uint256 index) = TermsRules.check(brand, terms, expiresAt);
        if (reason != Rejection.None) {
            TermsRules.revertFor(reason, msg.sender, brand, expiresAt, index);
        }
        _recordGrant(pair, msg.sender, brand, terms, purposes, expiresAt, noticeHash, pair.header.nonce);
    }

    /// @inheritdoc IConsentLedger
    function revoke(address brand) external {
        Pair storage pair = _pairs[msg.sender][brand];
        _recordRevoke(pair, msg.sender, brand, pair.header.nonce);
    }

    /// @inheritdoc IConsentLedger
    function grantBySig(GrantRequest calldata request, bytes calldata signature) external {
        Pair storage pair = _pairs[request.customer][request.brand];
        uint48 nonce = pair.header.nonce;
        PurposeTerms[] calldata terms = request.terms; // decoded once: each access re-validates the offsets
        (Rejection reason, uint64 purposes, uint256 index) = _checkGrant(request, terms, signature, nonce);
        if (reason != Rejection.None) {
            _revertGrant(reason, request, nonce, index);
        }
        _applyGrant(pair, request, terms, purposes, nonce);
    }

    /// @inheritdoc IConsentLedger
    function revokeBySig(RevokeRequest calldata request, bytes calldata signature) external {
        Pair storage pair = _pairs[request.customer][request.brand];
        uint48 nonce = pair.header.nonce;
        Rejection reason = _checkRevoke(request, signature, nonce);
        if (reason != Rejection.None) {
            _revertRevoke(reason, request, nonce);
        }
        _recordRevoke(pair, request.customer, request.brand, nonce);
    }

    /// @inheritdoc IConsentLedger
    function grantBatchBySig(SignedGrant[] calldata items) external returns (uint256 accepted) {
        for (uint256 i = 0; i < items.length; ++i) {
            GrantRequest calldata request = items[i].request;
            Pair storage pair = _pairs[request.customer][request.brand];
            uint48 nonce = pair.header.nonce;
            PurposeTerms[] calldata terms = request.terms;
            (Rejection reason, uint64 purposes,) = _checkGrant(request, terms, items[i].signature, nonce);
            if (reason == Rejection.None) {
                _applyGrant(pair, request, terms, purposes, nonce);
                ++accepted;
            } else {
                emit GrantRejected(request.customer, request.brand, request.nonce, reason);
            }
        }
    }

    /// @inheritdoc IConsentLedger
    function revokeBatchBySig(SignedRevoke[] calldata items) external returns (uint256 accepted) {
        for (uint256 i = 0; i < items.length; ++i) {
            RevokeRequest calldata request = items[i].request;
            Pair storage pair = _pairs[request.customer][request.brand];
            uint48 nonce = pair.header.nonce;
            Rejection reason = _checkRevoke(request, items[i].signature, nonce);
            if (reason == Rejection.None) {
                _recordRevoke(pair, request.customer, request.brand, nonce);
                ++accepted;
            } else {
                emit RevokeRejected(request.customer, request.brand, request.nonce, reason);
            }
        }
    }

    /// @inheritdoc IConsentLedger
    function anchor(bytes32 root, uint64 size) external {
        uint64 previous = _heads[msg.sender].size;
        if (size <= previous) {
            revert ConsentLedgerAnchorNotGrowing(msg.sender, previous, size);
        }
        if (root == bytes32(0)) {
            revert ConsentLedgerZeroRoot(msg.sender, size);
        }
        _roots[msg.sender][size] = root;
        _heads[msg.sender] = AnchorHead({size: size, anchoredAt: uint40(block.timestamp)});
        emit Anchored(msg.sender, root, size);
    }

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IConsentLedger
    function isAllowed(address customer, address brand, uint64 categories, uint64 purposes)
        external
        view
        returns (bool)
    {
        return _allows(_pairs[customer][brand], categories, purposes);
    }

    /// @inheritdoc IConsentLedger
    function areAllowed(Query[] calldata queries) external view returns (bool[] memory answers) {
        answers = new bool[](queries.length);
        for (uint256 i = 0; i < queries.length; ++i) {
            Query calldata q = queries[i];
            answers[i] = _allows(_pairs[q.customer][q.brand], q.categories, q.purposes);
        }
    }

    /// @inheritdoc IConsentLedger
    function grantOf(address customer, address brand) external view returns (GrantState memory state) {
        Pair storage pair = _pairs[customer][brand];
        Header memory h = pair.header;
        state.expiresAt = h.expiresAt;
        state.grantedAt = h.grantedAt;
        state.nonce = h.nonce;
        uint256 count = 0;
        for (uint8 p = 0; p < 64; ++p) {
            if (h.purposes & (uint64(1) << p) != 0) ++count;
        }
        state.terms = new PurposeTerms[](count);
        uint256 next = 0;
        for (uint8 p = 0; p < 64; ++p) {
            uint64 bit = uint64(1) << p;
            if (h.purposes & bit == 0) continue;
            uint64 categories = next == 0 ? h.firstCategories : pair.categories[bit];
            state.terms[next++] = PurposeTerms({purpose: p, categories: categories});
        }
    }

    /// @inheritdoc IConsentLedger
    function nonceOf(address customer, address brand) external view returns (uint256) {
        return _pairs[customer][brand].header.nonce;
    }

    /// @inheritdoc IConsentLedger
    function grantDigest(GrantRequest calldata request) external view returns (bytes32) {
        return _hashTypedDataV4(request.hash(request.terms.hash()));
    }

    /// @inheritdoc IConsentLedger
    function revokeDigest(RevokeRequest calldata request) external view returns (bytes32) {
        return _hashTypedDataV4(request.hash());
    }

    /// @inheritdoc IConsentLedger
    function latestAnchor(address custodian) external view returns (bytes32 root, uint64 size, uint40 anchoredAt) {
        AnchorHead memory head = _heads[custodian];
        return (_roots[custodian][head.size], head.size, head.anchoredAt);
    }

    /// @inheritdoc IConsentLedger
    function rootAt(address custodian, uint64 size) external view returns (bytes32) {
        return _roots[custodian][size];
    }

    /*//////////////////////////////////////////////////////////////
                                 INTERNALS
    //////////////////////////////////////////////////////////////*/

    /// @dev Every purpose asked for must be granted, each with every category asked for. The first
    /// (lowest) purpose's categories live in the header; the others in their own slots.
    function _allows(Pair storage pair, uint64 categories, uint64 purposes) private view returns (bool) {
        Header memory h = pair.header;
        if (purposes == 0 || block.timestamp >= h.expiresAt || h.purposes & purposes != purposes) return false;
        uint64 first = TermsRules.lowestBit(h.purposes);
        if (purposes & first != 0) {
            if (h.firstCategories & categories != categories) return false;
            purposes ^= first;
        }
        while (purposes != 0) {
            uint64 bit = TermsRules.lowestBit(purposes);
            if (pair.categories[bit] & categories != categories) return false;
            purposes ^= bit;
        }
        return true;
    }

    /// @dev `terms` is `request.terms`, decoded by the caller.
    function _checkGrant(
        GrantRequest calldata request,
        PurposeTerms[] calldata terms,
        bytes calldata signature,
        uint48 nonce
    ) private view returns (Rejection, uint64, uint256) {
        if (request.deadline < block.timestamp) return (Rejection.SignatureExpired, 0, 0);
        (Rejection reason, uint64 purposes, uint256 index) = TermsRules.check(request.brand, terms, request.expiresAt);
        if (reason != Rejection.None) return (reason, 0, index);
        if (request.nonce != nonce) return (Rejection.InvalidNonce, 0, 0);
        if (!_isSignedBy(request.customer, _hashTypedDataV4(request.hash(terms.hash())), signature)) {
            return (Rejection.InvalidSignature, 0, 0);
        }
        return (Rejection.None, purposes, 0);
    }

    function _checkRevoke(RevokeRequest calldata request, bytes calldata signature, uint48 nonce)
        private
        view
        returns (Rejection)
    {
        if (request.deadline < block.timestamp) return Rejection.SignatureExpired;
        if (request.nonce != nonce) return Rejection.InvalidNonce;
        if (!_isSignedBy(request.customer, _hashTypedDataV4(request.hash()), signature)) {
            return Rejection.InvalidSignature;
        }
        return Rejection.None;
    }

    /// @dev ECDSA first (the common, cheap case, which also refuses high-s signatures); only when
    /// that fails and the customer is a contract, ask it through EIP-1271, with bounded gas. The
    /// wallet's answer is copied into memory; its size is bounded by what the wallet can pay for
    /// with that gas, so the cost to us stays bounded too.
    function _isSignedBy(address customer, bytes32 digest, bytes calldata signature) private view returns (bool) {
        if (signature.length == 65) {
            // slither-disable-next-line unused-return (the third value only details `err`, which is checked)
            (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(
                digest, uint8(signature[64]), bytes32(signature[0:32]), bytes32(signature[32:64])
            );
            if (err == ECDSA.RecoverError.NoError && recovered == customer) return true;
        }
        if (customer.code.length == 0) return false;
        (bool ok, bytes memory answer) = customer.staticcall{gas: ERC1271_GAS_LIMIT}(
            abi.encodeCall(IERC1271.isValidSignature, (digest, signature))
        );
        return ok && answer.length == 32 && bytes4(answer) == IERC1271.isValidSignature.selector;
    }

    function _applyGrant(
        Pair storage pair,
        GrantRequest calldata request,
        PurposeTerms[] calldata terms,
        uint64 purposes,
        uint48 nonce
    ) private {
        _recordGrant(
            pair,
            request.customer,
            request.brand,
            terms,
            purposes,
            request.expiresAt,
            request.noticeHash,
            nonce
        );
    }

    /// @dev `terms` has passed `_checkTerms` (non-empty, purposes ascending and below 64) and
    /// `purposes` is its mask.
    function _recordGrant(
        Pair storage pair,
        address customer,
        address brand,
        PurposeTerms[] calldata terms,
        uint64 purposes,
        uint40 expiresAt,
        bytes32 noticeHash,
        uint48 nonce
    ) private {
        uint64 firstCategories = terms[0].categories; // read first: a calldata read between the writes would split them
        // Five fields of one packed slot: the optimizer merges these writes into a single SSTORE.
        Header storage header = pair.header;
        header.nonce = _next(nonce);
        header.expiresAt = expiresAt;
        header.grantedAt = uint40(block.timestamp);
        header.purposes = purposes;
        header.firstCategories = firstCategories;
        for (uint256 i = 1; i < terms.length; ++i) {
            pair.categories[uint64(1) << terms[i].purpose] = terms[i].categories;
        }
        emit Granted(customer, brand, terms, expiresAt, noticeHash, nonce);
    }

    function _recordRevoke(Pair storage pair, address customer, address brand, uint48 nonce) private {
        Header storage header = pair.header;
        header.nonce = _next(nonce);
        header.expiresAt = 0;
        header.grantedAt = 0;
        header.purposes = 0;
        header.firstCategories = 0;
        emit Revoked(customer, brand, nonce);
    }

    /// @dev The nonce after `nonce`. Unchecked: a stored nonce only ever grows by one per grant or
    /// revocation the customer signs or sends, so reaching 2^48 - 1 would take 2^48 transactions for
    /// one (customer, brand) pair, which no chain can carry; the check would only cost gas.
    function _next(uint48 nonce) private pure returns (uint48) {
        unchecked {
            return nonce + 1;
        }
    }

    function _revertGrant(Rejection reason, GrantRequest calldata request, uint48 nonce, uint256 index)
        private
        view
    {
        if (reason == Rejection.SignatureExpired) {
            revert ConsentLedgerSignatureExpired(request.deadline, block.timestamp);
        }
        if (reason == Rejection.InvalidNonce) {
            revert ConsentLedgerInvalidNonce(request.customer, request.brand, nonce, request.nonce);
        }
        if (reason == Rejection.InvalidSignature) {
            revert ConsentLedgerInvalidSignature(request.customer, request.brand);
        }
        TermsRules.revertFor(reason, request.customer, request.brand, request.expiresAt, index);
    }

    function _revertRevoke(Rejection reason, RevokeRequest calldata request, uint48 nonce) private view {
        if (reason == Rejection.SignatureExpired) {
            revert ConsentLedgerSignatureExpired(request.deadline, block.timestamp);
        }
        if (reason == Rejection.InvalidNonce) {
            revert ConsentLedgerInvalidNonce(request.customer, request.brand, nonce, request.nonce);
        }
        revert ConsentLedgerInvalidSignature(request.customer, request.brand);
    }
}
