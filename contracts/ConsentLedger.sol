// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";

import {IConsentLedger} from "./interfaces/IConsentLedger.sol";
import {GrantHash} from "./libraries/GrantHash.sol";

/// @title Consent Ledger
/// @notice Customer-signed data-sharing grants, one storage slot per (customer, brand), and
/// per-custodian access-log anchors. Immutable and permissionless: no owner, no admin, no proxy.
contract ConsentLedger is IConsentLedger, EIP712 {
    using GrantHash for GrantRequest;
    using GrantHash for RevokeRequest;

    /// @notice Gas given to a customer's EIP-1271 wallet to judge a signature. Bounded so that one
    /// wallet cannot burn a relayed batch's gas and sink everybody else's items with it.
    uint256 public constant ERC1271_GAS_LIMIT = 100_000;

    /*//////////////////////////////////////////////////////////////
                                 STORAGE
    //////////////////////////////////////////////////////////////*/

    mapping(address customer => mapping(address brand => GrantState)) private _grants;

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
    function grant(address brand, uint64 categories, uint64 purposes, uint40 expiresAt, bytes32 noticeHash)
        external
    {
        GrantState storage slot = _grants[msg.sender][brand];
        Rejection reason = _checkTerms(brand, categories, purposes, expiresAt);
        if (reason != Rejection.None) {
            _revertTerms(reason, msg.sender, brand, expiresAt);
        }
        _recordGrant(slot, msg.sender, brand, categories, purposes, expiresAt, noticeHash, slot.nonce);
    }

    /// @inheritdoc IConsentLedger
    function revoke(address brand) external {
        GrantState storage slot = _grants[msg.sender][brand];
        _recordRevoke(slot, msg.sender, brand, slot.nonce);
    }

    /// @inheritdoc IConsentLedger
    function grantBySig(GrantRequest calldata request, bytes calldata signature) external {
        GrantState storage slot = _grants[request.customer][request.brand];
        uint48 nonce = slot.nonce;
        Rejection reason = _checkGrant(request, signature, nonce);
        if (reason != Rejection.None) {
            _revertGrant(reason, request, nonce);
        }
        _applyGrant(slot, request, nonce);
    }

    /// @inheritdoc IConsentLedger
    function revokeBySig(RevokeRequest calldata request, bytes calldata signature) external {
        GrantState storage slot = _grants[request.customer][request.brand];
        uint48 nonce = slot.nonce;
        Rejection reason = _checkRevoke(request, signature, nonce);
        if (reason != Rejection.None) {
            _revertRevoke(reason, request, nonce);
        }
        _recordRevoke(slot, request.customer, request.brand, nonce);
    }

    /// @inheritdoc IConsentLedger
    function grantBatchBySig(SignedGrant[] calldata items) external returns (uint256 accepted) {
        for (uint256 i = 0; i < items.length; ++i) {
            GrantRequest calldata request = items[i].request;
            GrantState storage slot = _grants[request.customer][request.brand];
            uint48 nonce = slot.nonce;
            Rejection reason = _checkGrant(request, items[i].signature, nonce);
            if (reason == Rejection.None) {
                _applyGrant(slot, request, nonce);
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
            GrantState storage slot = _grants[request.customer][request.brand];
            uint48 nonce = slot.nonce;
            Rejection reason = _checkRevoke(request, items[i].signature, nonce);
            if (reason == Rejection.None) {
                _recordRevoke(slot, request.customer, request.brand, nonce);
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
        return _allows(_grants[customer][brand], categories, purposes);
    }

    /// @inheritdoc IConsentLedger
    function areAllowed(Query[] calldata queries) external view returns (bool[] memory answers) {
        answers = new bool[](queries.length);
        for (uint256 i = 0; i < queries.length; ++i) {
            Query calldata q = queries[i];
            answers[i] = _allows(_grants[q.customer][q.brand], q.categories, q.purposes);
        }
    }

    /// @inheritdoc IConsentLedger
    function grantOf(address customer, address brand) external view returns (GrantState memory) {
        return _grants[customer][brand];
    }

    /// @inheritdoc IConsentLedger
    function nonceOf(address customer, address brand) external view returns (uint256) {
        return _grants[customer][brand].nonce;
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

    function _allows(GrantState storage state, uint64 categories, uint64 purposes) private view returns (bool) {
        GrantState memory s = state;
        return block.timestamp < s.expiresAt && s.categories & categories == categories
            && s.purposes & purposes == purposes;
    }

    /// @dev The checks every grant passes, however it arrives. Returns the first failure.
    function _checkTerms(address brand, uint64 categories, uint64 purposes, uint40 expiresAt)
        private
        view
        returns (Rejection)
    {
        if (brand == address(0)) return Rejection.ZeroBrand;
        if (categories == 0) return Rejection.NoCategories;
        if (purposes == 0) return Rejection.NoPurposes;
        if (expiresAt <= block.timestamp) return Rejection.ExpiryInPast;
        return Rejection.None;
    }

    function _checkGrant(GrantRequest calldata request, bytes calldata signature, uint48 nonce)
        private
        view
        returns (Rejection)
    {
        if (request.deadline < block.timestamp) return Rejection.SignatureExpired;
        Rejection reason = _checkTerms(request.brand, request.categories, request.purposes, request.expiresAt);
        if (reason != Rejection.None) return reason;
        if (request.nonce != nonce) return Rejection.InvalidNonce;
        if (!_isSignedBy(request.customer, _hashTypedDataV4(request.hash()), signature)) {
            return Rejection.InvalidSignature;
        }
        return Rejection.None;
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

    function _applyGrant(GrantState storage slot, GrantRequest calldata request, uint48 nonce) private {
        _recordGrant(
            slot,
            request.customer,
            request.brand,
            request.categories,
            request.purposes,
            request.expiresAt,
            request.noticeHash,
            nonce
        );
    }

    function _recordGrant(
        GrantState storage slot,
        address customer,
        address brand,
        uint64 categories,
        uint64 purposes,
        uint40 expiresAt,
        bytes32 noticeHash,
        uint48 nonce
    ) private {
        // Five fields of one packed slot: the optimizer merges these writes into a single SSTORE.
        slot.categories = categories;
        slot.purposes = purposes;
        slot.expiresAt = expiresAt;
        slot.grantedAt = uint40(block.timestamp);
        slot.nonce = _next(nonce);
        emit Granted(customer, brand, categories, purposes, expiresAt, noticeHash, nonce);
    }

    function _recordRevoke(GrantState storage slot, address customer, address brand, uint48 nonce) private {
        slot.categories = 0;
        slot.purposes = 0;
        slot.expiresAt = 0;
        slot.grantedAt = 0;
        slot.nonce = _next(nonce);
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

    function _revertTerms(Rejection reason, address customer, address brand, uint40 expiresAt) private view {
        if (reason == Rejection.ZeroBrand) revert ConsentLedgerZeroBrand(customer);
        if (reason == Rejection.NoCategories) revert ConsentLedgerNoCategories(customer, brand);
        if (reason == Rejection.NoPurposes) revert ConsentLedgerNoPurposes(customer, brand);
        revert ConsentLedgerExpiryInPast(expiresAt, block.timestamp);
    }

    function _revertGrant(Rejection reason, GrantRequest calldata request, uint48 nonce) private view {
        if (reason == Rejection.SignatureExpired) {
            revert ConsentLedgerSignatureExpired(request.deadline, block.timestamp);
        }
        if (reason == Rejection.InvalidNonce) {
            revert ConsentLedgerInvalidNonce(request.customer, request.brand, nonce, request.nonce);
        }
        if (reason == Rejection.InvalidSignature) {
            revert ConsentLedgerInvalidSignature(request.customer, request.brand);
        }
        _revertTerms(reason, request.customer, request.brand, request.expiresAt);
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
