// "Who accessed my data": every release of the customer's data, each checked in this browser:
// the leaf is decoded and compared with what is shown, and its RFC 9162 inclusion proof is
// verified with WebCrypto against the tree head anchored on-chain.

import { ApiError, api } from "./api.js";
import { $, badge, busy, el, facts, fill, labelsOf, say, when } from "./ui.js";
import { hexToBytes, verifyEntry } from "./merkle.js";
import { decodeLeaf, leafMismatches } from "./leaf.js";

let ctx = null;

/** Check one entry; resolves to {state: "verified"|"failed"|"unanchored", why}. */
export async function checkEntry(entry, treeHead, { customer, catalog }) {
  if (!entry.leaf) return { state: "unanchored", why: "not in the access log yet" };
  if (!entry.anchored || !entry.proof) return { state: "unanchored", why: "not anchored yet: the next anchor will cover it" };
  if (!treeHead) return { state: "failed", why: "the server sent a proof but no anchored tree head" };
  let leaf;
  try {
    leaf = decodeLeaf(hexToBytes(entry.leaf));
  } catch (error) {
    return { state: "failed", why: `the logged leaf cannot be read: ${error.message}` };
  }
  const differs = await leafMismatches(leaf, entry, { customer, catalog });
  if (differs.length) return { state: "failed", why: `the logged entry differs from what is shown here: ${differs.join(", ")}` };
  const ok = await verifyEntry({ leaf: entry.leaf, leafIndex: entry.leaf_index, size: treeHead.size, proof: entry.proof, root: treeHead.root });
  if (!ok) return { state: "failed", why: `the inclusion proof does not lead to the anchored root ${treeHead.root}` };
  return { state: "verified", why: `entry ${entry.leaf_index} of ${treeHead.size} is in the log whose root was anchored in block ${treeHead.block_number}` };
}

function verdictBadge(result) {
  if (result.state === "verified") return badge("verified ✓", "ok");
  if (result.state === "unanchored") return badge("not anchored yet", "warn");
  return badge("NOT verified", "bad");
}

function entryItem(entry, result) {
  const catalog = ctx.app.catalog;
  const who = entry.brand_name || entry.brand;
  return el(
    "li",
    { class: "item access", dataset: { receipt: entry.receipt_id, verdict: result ? result.state : "none" } },
    el("h3", {}, who, result ? verdictBadge(result) : badge("no proof offered", "warn")),
    facts([
      ["Brand", el("span", { class: "mono" }, entry.brand)],
      ["Categories", labelsOf(entry.categories, catalog.categories).join(", ")],
      ["Purpose", labelsOf(entry.purposes, catalog.purposes).join(", ")],
      ["Fields sent", entry.fields.join(", ")],
      ["When", when(entry.released_at)],
      ["Decided at block", `${entry.block_number} (${entry.block_hash})`],
      ["Receipt", el("span", { class: "mono" }, entry.receipt_id)],
      ["Proof", result ? result.why : "This server does not publish an access log with proofs yet."],
    ]),
  );
}

function renderTreeHead(head) {
  const box = $("tree-head");
  if (!head) {
    box.textContent = "No root of the access log has been anchored on-chain yet.";
    return;
  }
  fill(box, el("p", {}, `Access log: ${head.size} ${head.size === 1 ? "entry" : "entries"}; its root ${head.root} was anchored on-chain in block ${head.block_number} (transaction ${head.tx_hash}). Each entry below is checked against it in your browser.`));
}

/** Fallback while the server has no /v1/me/accesses: the release receipts, without proofs. */
async function loadReceiptsOnly() {
  const { releases } = await api("/v1/me/releases");
  $("tree-head").textContent = "This server does not publish the access log yet: these are its release receipts, which cannot be checked against an anchored root.";
  const entries = releases.map((r) => ({ ...r, block_number: r.block.number, block_hash: r.block.hash, brand_name: brandName(r.brand) }));
  showEntries(entries, entries.map(() => null));
}

function brandName(address) {
  const brand = ctx.app.brands.find((b) => b.address.toLowerCase() === address.toLowerCase());
  return brand ? brand.name : null;
}

function showEntries(entries, results) {
  const list = $("accesses-list");
  if (!entries.length) {
    fill(list, el("li", { class: "muted" }, "Nobody has received any of your data."));
    return;
  }
  fill(list, entries.map((entry, i) => entryItem(entry, results[i])));
}

export async function loadAccesses() {
  if (!ctx.app.catalog || !ctx.session.state.session) return;
  let data;
  try {
    data = await api("/v1/me/accesses");
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405)) {
      await loadReceiptsOnly();
      return;
    }
    throw error;
  }
  renderTreeHead(data.tree_head);
  const options = { customer: ctx.session.state.session.address, catalog: ctx.app.catalog };
  const results = await Promise.all(data.accesses.map((entry) => checkEntry(entry, data.tree_head, options)));
  showEntries(data.accesses, results);
  const failed = results.filter((r) => r.state === "failed").length;
  if (failed) say(`${failed} access log ${failed === 1 ? "entry" : "entries"} could NOT be verified: see "Who accessed my data".`, "error");
}

export function setupAccesses({ app, session }) {
  ctx = { app, session };
  $("accesses-refresh").addEventListener("click", (event) => busy(event.currentTarget, loadAccesses));
}
