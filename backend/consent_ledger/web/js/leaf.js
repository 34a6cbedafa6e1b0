// The access-log leaves the browser checks (big-endian integers; audit/leaf.py is the reference):
// v1, a released record (153 bytes):
//   version 1 | receipt uuid 16 | customer 20 | brand 20 | categories 8 | purposes 8 |
//   block number 8 | block hash 32 | released_at 8 (unix seconds) | SHA-256 of the field names 32
//   (the UTF-8 JSON array of the sorted names, no spaces: JSON.stringify(sorted)).
// v3, a propagation step (108 bytes): a brand was told of an event, or acknowledged it:
//   version 3 | leaf uuid 16 | step 1 | event type 1 | event id 32 | customer 20 | brand 20 |
//   occurred at 8 | at 8 (unix seconds) | acknowledgement 1

import { bytesToHex, equalBytes, sha256 } from "./merkle.js";

export const LEAF_V1_LENGTH = 153;
export const LEAF_V3_LENGTH = 108;
// One-byte codes of a v3 leaf: the array position is the code (0 is no step or type; ack 0 is none).
export const STEPS = [null, "delivered", "acknowledged"];
export const EVENT_TYPES = [
  null, "consent.granted", "consent.narrowed", "consent.revoked", "consent.expired", "data.erased", "data.released",
];
export const ACKS = [null, "stopped_processing", "deleted", "received"];

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

function named(names, code, what) {
  if (code === 0 || code >= names.length) throw new Error(`unknown ${what} code ${code}`);
  return names[code];
}

/** Decode a v3 (propagation step) leaf; throws a readable Error for anything else. */
export function decodePropagationLeaf(bytes) {
  if (bytes.length !== LEAF_V3_LENGTH) throw new Error(`the leaf is ${bytes.length} bytes, expected ${LEAF_V3_LENGTH}`);
  if (bytes[0] !== 3) throw new Error(`unknown leaf version ${bytes[0]}`);
  const step = named(STEPS, bytes[17], "step");
  const ack = bytes[107] === 0 ? null : named(ACKS, bytes[107], "acknowledgement");
  if ((step === "delivered") !== (ack === null)) throw new Error(`a ${step} step with acknowledgement ${ack}`);
  return {
    version: 3,
    leafId: uuid(bytes.subarray(1, 17)),
    step,
    eventType: named(EVENT_TYPES, bytes[18], "event type"),
    eventId: `evt_${bytesToHex(bytes.subarray(19, 51)).slice(2)}`,
    customer: bytesToHex(bytes.subarray(51, 71)),
    brand: bytesToHex(bytes.subarray(71, 91)),
    occurredAt: uint(bytes.subarray(91, 99)),
    at: uint(bytes.subarray(99, 107)),
    ack,
  };
}

/** Decode a leaf of either version the browser knows (v1 or v3), by its first byte. */
export function decodeAnyLeaf(bytes) {
  return bytes[0] === 3 ? decodePropagationLeaf(bytes) : decodeLeaf(bytes);
}

/**
 * Compare a decoded v3 leaf with the propagation step the API showed ({event_id, event_type, brand,
 * occurred_at, at, ack, step}). Returns what differs (empty when the leaf says what the page shows).
 */
export function propagationMismatches(leaf, step, { customer }) {
  const problems = [];
  const same = (a, b) => String(a).toLowerCase() === String(b).toLowerCase();
  if (leaf.step !== step.step) problems.push("step");
  if (leaf.eventType !== step.event_type) problems.push("event type");
  if (!same(leaf.eventId, step.event_id)) problems.push("event id");
  if (!same(leaf.customer, customer)) problems.push("customer");
  if (!same(leaf.brand, step.brand)) problems.push("brand");
  if (BigInt(unixSeconds(step.occurred_at) ?? -1) !== leaf.occurredAt) problems.push("time of the change");
  if (BigInt(unixSeconds(step.at) ?? -1) !== leaf.at) problems.push("time");
  if ((step.ack ?? null) !== leaf.ack) problems.push("acknowledgement");
  return problems;
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
