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

/// @notice Spends as much computation as the signature asks for, then says yes: with the right
/// signature it lands just under, at, or just over any gas limit it is given.
contract GasHogWallet {
    /// @notice Loops `uint16(signature[0:2])` times, then answers with the magic value.
    /// @param hash The digest (folded into the loop so the work cannot be skipped).
    /// @param signature Its first two bytes say how many rounds to spin.
    /// @return The EIP-1271 magic value.
    function isValidSignature(bytes32 hash, bytes calldata signature) external pure returns (bytes4) {
        uint256 rounds = signature.length >= 2 ? uint16(bytes2(signature[0:2])) : 0;
        uint256 acc = uint256(hash);
        for (uint256 i = 0; i < rounds; ++i) {
            // Unchecked: a throwaway accumulator; wrapping is the point, not a bug.
            unchecked {
                acc = acc * 31 + i;
            }
        }
        return acc == 0 ? bytes4(0) : bytes4(0x1626ba7e);
    }
}

/// @notice Writes to its storage while judging: fine in a plain call, refused in a static one.
contract StatefulWallet {
    uint256 private _asked;

    /// @notice Counts the question, then says yes.
    /// @return The magic value.
    function isValidSignature(bytes32, bytes calldata) external returns (bytes4) {
        _asked += 1;
        return 0x1626ba7e;
    }
}

/// @notice Answers with whatever raw bytes the signature holds (not ABI-encoded), so a caller can be
/// handed answers of any length and content: short, long, magic value first, magic value last.
contract EchoWallet {
    /// @notice Any call: decodes `isValidSignature(bytes32, bytes)` and returns the bytes verbatim.
    /// @param input The calldata.
    /// @return The signature's bytes, raw.
    fallback(bytes calldata input) external returns (bytes memory) {
        (, bytes memory signature) = abi.decode(input[4:], (bytes32, bytes));
        return signature;
    }
}
