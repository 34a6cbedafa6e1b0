"""The tamper-evident access log: RFC 9162 Merkle tree (pure), proofs and verifiers (pure), leaf
encoding (pure), storage, anchoring on-chain, and the independent verifier."""
