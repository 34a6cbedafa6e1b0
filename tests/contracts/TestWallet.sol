// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";

/// @title A minimal smart-contract wallet for tests: EIP-1271 signatures are its owner's ECDSA ones.
contract TestWallet is IERC1271 {
    address private immutable _owner;

    constructor(address owner) {
        _owner = owner;
    }

    /// @notice EIP-1271: valid when `owner` signed `hash`.
    /// @param hash The digest.
    /// @param signature The owner's 65-byte signature.
    /// @return The EIP-1271 magic value, or 0xffffffff.
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
        return err == ECDSA.RecoverError.NoError && signer == _owner ? this.isValidSignature.selector : bytes4(0xffffffff);
    }
}
