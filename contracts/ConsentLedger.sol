// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";

import {IConsentLedger} from "./interfaces/IConsentLedger.sol";
import {GrantHash} from "./libraries/GrantHash.sol";
import {TermsRules} from "./libraries/TermsRules.sol";

/// @title Consent Ledger
/// @notice Customer-signed data-sharing grants, per purpose, and per-custodian access-log anchors.
/// Immutable and permissionless: no owner, no admin, no proxy.
/// @dev Storage per (customer, brand): one header word holding the nonce, expiry, grant time, the
/// purposes mask and the categories of the grant's first (lowest) purpose, so a one-purpose grant is
/// one storage write, as is a revocation; each further purpose writes one slot of its own, keyed by
/// its bit. A new grant rewrites the header and every further purpose it names, so purpose slots
/// left by an earlier grant are never read again (the header's mask no longer names them, or the new
/// grant overwrote them) and need no clearing.
contract ConsentLedger is IConsentLedger, EIP712 {
    using GrantHash for GrantRequest;
    using GrantHash for RevokeRequest;

    /// @notice Gas given to a customer's EIP-1271 wallet to judge a signature. Bounded so that one
    /// wallet cannot burn a relayed batch's gas and sink everybody else's items with it.
    uint256 public constant ERC1271_GAS_LIMIT = 100_000;

    /// @inheritdoc IConsentLedger
    uint256 public constant MAX_GRANT_DURATION = TermsRules.MAX_GRANT_DURATION;

    /// @dev The largest `s` of a non-malleable ECDSA signature (half the secp256k1 group order).
    uint256 private constant MAX_LOW_S = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /*//////////////////////////////////////////////////////////////
                                 STORAGE
    //////////////////////////////////////////////////////////////*/

    /// @dev `header` is one word, always written whole with one SSTORE: bits 0-47 the nonce, 48-87
    /// the expiry, 88-127 the grant time, 128-191 the purposes mask, 192-255 the categories of the
    /// lowest purpose of the mask. (Five fields of a packed struct, written one by one, used to be
    /// merged into one SSTORE by the optimizer, until more code followed the writes; an explicit
    /// word cannot be split.) `categories` holds the other purposes' categories, keyed by bit.
    struct Pair {
        uint256 header;
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
    function grant(
        address brand,
        uint64 purposes,
        uint64[] calldata categoriesPerPurpose,
        uint40 expiresAt,
        bytes32 noticeHash
    ) external {
        Pair storage pair = _pairs[msg.sender][brand];
        (Rejection reason, uint256 index) = TermsRules.check(brand, purposes, categoriesPerPurpose, expiresAt);
        if (reason != Rejection.None) {
            TermsRules.revertFor(
                reason, msg.sender, brand, purposes, categoriesPerPurpose.length, expiresAt, index
            );
        }
        _recordGrant(
            pair, msg.sender, brand, purposes, categoriesPerPurpose, expiresAt, noticeHash, _nonce(pair.header)
        );
    }

    /// @inheritdoc IConsentLedger
    function revoke(address brand) external {
        Pair storage pair = _pairs[msg.sender][brand];
        _recordRevoke(pair, msg.sender, brand, _nonce(pair.header));
    }

    /// @inheritdoc IConsentLedger
    function grantBySig(GrantRequest calldata request, bytes calldata signature) external {
        (Rejection reason, uint256 index, uint48 nonce) = _grantSigned(request, signature);
        if (reason != Rejection.None) {
            _revertGrant(reason, request, nonce, index);
        }
    }

    /// @inheritdoc IConsentLedger
    function revokeBySig(RevokeRequest calldata request, bytes calldata signature) external {
        Pair storage pair = _pairs[request.customer][request.brand];
        uint48 nonce = _nonce(pair.header);
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
            (Rejection reason,,) = _grantSigned(request, items[i].signature);
            if (reason == Rejection.None) {
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
            uint48 nonce = _nonce(pair.header);
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
        uint256 header = pair.header;
        uint64 purposes = uint64(header >> 128);
        state.expiresAt = uint40(header >> 48);
        state.grantedAt = uint40(header >> 88);
        state.nonce = _nonce(header);
        state.terms = new PurposeTerms[](TermsRules.bitCount(purposes));
        uint256 next = 0;
        for (uint8 p = 0; p < 64; ++p) {
            uint64 bit = uint64(1) << p;
            if (purposes & bit == 0) continue;
            uint64 categories = next == 0 ? uint64(header >> 192) : pair.categories[bit];
            state.terms[next++] = PurposeTerms({purpose: p, categories: categories});
        }
    }

    /// @inheritdoc IConsentLedger
    function nonceOf(address customer, address brand) external view returns (uint256) {
        return _nonce(_pairs[customer][brand].header);
    }

    /// @inheritdoc IConsentLedger
    function grantDigest(GrantRequest calldata request) external view returns (bytes32) {
        return _hashTypedDataV4(request.hash());
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
        uint256 header = pair.header;
        uint64 granted = uint64(header >> 128);
        if (purposes == 0 || block.timestamp >= uint40(header >> 48) || granted & purposes != purposes) return false;
        uint64 first = TermsRules.lowestBit(granted);
        if (purposes & first != 0) {
            if (uint64(header >> 192) & categories != categories) return false;
            purposes ^= first;
        }
        while (purposes != 0) {
            uint64 bit = TermsRules.lowestBit(purposes);
            if (pair.categories[bit] & categories != categories) return false;
            purposes ^= bit;
        }
        return true;
    }

    /// @dev The nonce held in a header word.
    function _nonce(uint256 header) private pure returns (uint48) {
        return uint48(header);
    }

    /// @dev Checks a signed grant and, when it passes, records it. Returns the first failure (with
    /// the offending index of `categoriesPerPurpose`, when one is at fault) and the pair's nonce as
    /// it was. Each field of `request` is read from calldata once (every read re-validates it).
    function _grantSigned(GrantRequest calldata request, bytes calldata signature)
        private
        returns (Rejection, uint256, uint48)
    {
        address customer = request.customer;
        address brand = request.brand;
        Pair storage pair = _pairs[customer][brand];
        uint48 nonce = _nonce(pair.header);
        uint40 deadline = request.deadline;
        if (deadline < block.timestamp) return (Rejection.SignatureExpired, 0, nonce);
        uint64 purposes = request.purposes;
        uint64[] calldata categories = request.categoriesPerPurpose;
        uint40 expiresAt = request.expiresAt;
        (Rejection reason, uint256 index) = TermsRules.check(brand, purposes, categories, expiresAt);
        if (reason != Rejection.None) return (reason, index, nonce);
        if (request.nonce != nonce) return (Rejection.InvalidNonce, 0, nonce);
        bytes32 noticeHash = request.noticeHash;
        bytes32 digest = _hashTypedDataV4(
            GrantHash.hashGrant(customer, brand, purposes, categories, expiresAt, noticeHash, nonce, deadline)
        );
        if (!_isSignedBy(customer, digest, signature)) return (Rejection.InvalidSignature, 0, nonce);
        _recordGrant(pair, customer, brand, purposes, categories, expiresAt, noticeHash, nonce);
        return (Rejection.None, 0, nonce);
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

    /// @dev ECDSA first (the common, cheap case): a 65-byte r ‖ s ‖ v signature with a low `s`
    /// (high-s twins are refused, so a signature cannot be made malleable), recovered by the
    /// precompile, which answers zero for any `v` but 27 or 28 and for an invalid signature (zero is
    /// never accepted as a signer). Only when that fails and the customer is a contract, ask it
    /// through EIP-1271, with bounded gas. The wallet's answer is copied into memory; its size is
    /// bounded by what the wallet can pay for with that gas, so the cost to us stays bounded too.
    function _isSignedBy(address customer, bytes32 digest, bytes calldata signature) private view returns (bool) {
        if (signature.length == 65) {
            bytes32 s = bytes32(signature[32:64]);
            if (uint256(s) <= MAX_LOW_S) {
                address recovered = ecrecover(digest, uint8(signature[64]), bytes32(signature[0:32]), s);
                if (recovered == customer && recovered != address(0)) return true;
            }
        }
        if (customer.code.length == 0) return false;
        (bool ok, bytes memory answer) = customer.staticcall{gas: ERC1271_GAS_LIMIT}(
            abi.encodeCall(IERC1271.isValidSignature, (digest, signature))
        );
        return ok && answer.length == 32 && bytes4(answer) == IERC1271.isValidSignature.selector;
    }

    /// @dev The terms have passed `TermsRules.check`: `categories` holds one non-zero mask per bit
    /// of `purposes`, ascending. One SSTORE for the header (which carries the first purpose's
    /// categories), one per further purpose.
    function _recordGrant(
        Pair storage pair,
        address customer,
        address brand,
        uint64 purposes,
        uint64[] calldata categories,
        uint40 expiresAt,
        bytes32 noticeHash,
        uint48 nonce
    ) private {
        uint256 header = uint256(_next(nonce)) | (uint256(expiresAt) << 48) | (uint256(uint40(block.timestamp)) << 88)
            | (uint256(purposes) << 128) | (uint256(categories[0]) << 192);
        pair.header = header;
        uint256 count = categories.length;
        uint64 rest = TermsRules.withoutLowestBit(purposes);
        for (uint256 i = 1; i < count; ++i) {
            uint64 bit = TermsRules.lowestBit(rest);
            pair.categories[bit] = categories[i];
            rest ^= bit;
        }
        emit Granted(customer, brand, header, noticeHash);
        if (count > 1) {
            emit FurtherPurposesGranted(customer, brand, categories[1:]);
        }
    }

    /// @dev A revoked pair's header holds only the next nonce: no purposes, expired at zero.
    function _recordRevoke(Pair storage pair, address customer, address brand, uint48 nonce) private {
        pair.header = uint256(_next(nonce));
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
        TermsRules.revertFor(
            reason,
            request.customer,
            request.brand,
            request.purposes,
            request.categoriesPerPurpose.length,
            request.expiresAt,
            index
        );
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
