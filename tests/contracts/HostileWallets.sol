// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Wallets that misbehave when asked to judge a signature (tests only).
/// @notice Burns every unit of gas it is given.
contract GasBurnerWallet {
    uint256 private _sink;

    /// @notice Never answers: loops until out of gas.
    /// @return Never returns.
    function isValidSignature(bytes32, bytes calldata) external returns (bytes4) {
        while (true) {
            _sink += 1;
        }
        return 0x1626ba7e;
    }
}

/// @notice Answers with the magic value padded into the wrong size.
contract ChattyWallet {
    /// @notice Returns 64 bytes where 32 are expected.
    /// @return a The magic value.
    /// @return b Extra data nobody asked for.
    function isValidSignature(bytes32, bytes calldata) external pure returns (bytes4 a, bytes32 b) {
        return (0x1626ba7e, bytes32(uint256(1)));
    }
}
