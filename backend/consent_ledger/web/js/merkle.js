// RFC 9162 (Certificate Transparency v2) Merkle tree hashing and inclusion-proof verification,
// with SHA-256 from WebCrypto. Leaf hash = SHA-256(0x00 || leaf); node hash = SHA-256(0x01 || left || right).

export function hexToBytes(hex) {
  if (typeof hex !== "string") throw new TypeError("expected a hex string");
  const body = hex.startsWith("0x") || hex.startsWith("0X") ? hex.slice(2) : hex;
  if (body.length % 2 !== 0 || /[^0-9a-fA-F]/.test(body)) throw new TypeError(`not hex: ${hex.slice(0, 20)}`);
  const out = new Uint8Array(body.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = Number.parseInt(body.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function bytesToHex(bytes) {
  return `0x${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i += 1) diff |= a[i] ^ b[i];
  return diff === 0;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export async function sha256(bytes) {
  if (!globalThis.crypto || !crypto.subtle) {
    throw new Error("This browser offers no WebCrypto here (it needs https or localhost): proofs cannot be checked.");
  }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

export function leafHash(leaf) {
  return sha256(concat(Uint8Array.of(0x00), leaf));
}

export function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(0x01), left, right));
}

/**
 * RFC 9162 section 2.1.3.2: does `proof` (array of 32-byte Uint8Arrays) prove that the leaf with
 * hash `hash` sits at `index` in the tree of `size` leaves whose root is `root`? Resolves to a boolean.
 */
export async function verifyInclusion(index, size, hash, proof, root) {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = hash;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalBytes(r, root);
}

/** Hex-string convenience: leaf bytes, proof and root as 0x-hex, as the API sends them. */
export async function verifyEntry({ leaf, leafIndex, size, proof, root }) {
  try {
    const hash = await leafHash(hexToBytes(leaf));
    return await verifyInclusion(leafIndex, size, hash, proof.map(hexToBytes), hexToBytes(root));
  } catch (error) {
    if (error instanceof TypeError) return false;
    throw error;
  }
}
