// The access-log leaf, layout v1 (153 bytes, big-endian integers):
// version 1 | receipt uuid 16 | customer 20 | brand 20 | categories 8 | purposes 8 |
// block number 8 | block hash 32 | released_at 8 (unix seconds) | SHA-256 of the field names 32
// (the UTF-8 JSON array of the sorted names, no spaces: JSON.stringify(sorted)).

import { bytesToHex, equalBytes, sha256 } from "./merkle.js";

export const LEAF_V1_LENGTH = 153;

function uint(bytes) {
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  return value;
}

function uuid(bytes) {
  const hex = bytesToHex(bytes).slice(2);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Decode a v1 leaf; throws a readable Error for any other length or version. */
export function decodeLeaf(bytes) {
  if (bytes.length !== LEAF_V1_LENGTH) throw new Error(`the leaf is ${bytes.length} bytes, expected ${LEAF_V1_LENGTH}`);
  if (bytes[0] !== 1) throw new Error(`unknown leaf version ${bytes[0]}`);
  let at = 1;
  const take = (n) => {
    const part = bytes.subarray(at, at + n);
    at += n;
    return part;
  };
  return {
    version: 1,
    receiptId: uuid(take(16)),
    customer: bytesToHex(take(20)),
    brand: bytesToHex(take(20)),
    categories: uint(take(8)),
    purposes: uint(take(8)),
    blockNumber: uint(take(8)),
    blockHash: bytesToHex(take(32)),
    releasedAt: uint(take(8)),
    fieldsHash: take(32),
  };
}

/** SHA-256 of the UTF-8 JSON array of the sorted field names, as the log commits to them. */
export function fieldsHash(names) {
  const sorted = [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return sha256(new TextEncoder().encode(JSON.stringify(sorted)));
}

/** Mask of catalog names (entries carry `mask` as a hex string). Unknown names make it null. */
export function maskOf(names, entries) {
  const byName = new Map(entries.map((entry) => [entry.name, BigInt(entry.mask)]));
  let mask = 0n;
  for (const name of names) {
    if (!byName.has(name)) return null;
    mask |= byName.get(name);
  }
  return mask;
}

/** Unix seconds of an ISO-8601 time (any number of fractional digits). */
export function unixSeconds(iso) {
  const trimmed = String(iso).replace(/(\.\d{3})\d+/, "$1");
  const ms = Date.parse(trimmed);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

/**
 * Compare a decoded leaf with the entry the API showed. Returns the list of what differs
 * (empty when the leaf says exactly what the page shows).
 */
export async function leafMismatches(leaf, entry, { customer, catalog }) {
  const problems = [];
  const same = (a, b) => String(a).toLowerCase() === String(b).toLowerCase();
  if (!same(leaf.receiptId, entry.receipt_id)) problems.push("receipt id");
  if (!same(leaf.customer, customer)) problems.push("customer");
  if (!same(leaf.brand, entry.brand)) problems.push("brand");
  if (maskOf(entry.categories, catalog.categories) !== leaf.categories) problems.push("categories");
  if (maskOf(entry.purposes, catalog.purposes) !== leaf.purposes) problems.push("purposes");
  if (BigInt(entry.block_number) !== leaf.blockNumber) problems.push("block number");
  if (!same(leaf.blockHash, entry.block_hash)) problems.push("block hash");
  if (BigInt(unixSeconds(entry.released_at) ?? -1) !== leaf.releasedAt) problems.push("release time");
  if (!equalBytes(await fieldsHash(entry.fields), leaf.fieldsHash)) problems.push("field names");
  return problems;
}
