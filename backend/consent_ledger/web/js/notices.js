// "Who was told of my revocations and erasures": per brand, when it was told and when it acknowledged.
// Each step is an access-log leaf (version 3): it is decoded and compared with what is shown, and its
// RFC 9162 inclusion proof is verified with WebCrypto against the tree head anchored on-chain.
// While a brand still owes an answer the list refreshes itself every few seconds.

import { api } from "./api.js";
import { $, badge, busy, el, facts, fill, say, when } from "./ui.js";
import { hexToBytes, verifyEntry } from "./merkle.js";
import { decodePropagationLeaf, propagationMismatches } from "./leaf.js";

const POLL_MS = 3000;
const ACK_WORDS = { stopped_processing: "stopped processing your data", deleted: "deleted your data", received: "received the notice" };
const CHANGE_WORDS = { "consent.revoked": "You revoked your consent", "data.erased": "You erased your data" };

let ctx = null;
let timer = null;
let expectUntil = 0; // after a revocation: keep looking until its notice shows up (the indexer follows the chain)

/** Check one step; resolves to {state: "verified"|"failed"|"unanchored", why}. */
export async function checkStep(step, treeHead, { customer }) {
  if (!step.anchored || !step.proof) return { state: "unanchored", why: "logged, not anchored yet: the next anchor will cover it" };
  if (!treeHead) return { state: "failed", why: "the server sent a proof but no anchored tree head" };
  let leaf;
  try {
    leaf = decodePropagationLeaf(hexToBytes(step.leaf));
  } catch (error) {
    return { state: "failed", why: `the logged step cannot be read: ${error.message}` };
  }
  const differs = propagationMismatches(leaf, step, { customer });
  if (differs.length) return { state: "failed", why: `the logged step differs from what is shown here: ${differs.join(", ")}` };
  const ok = await verifyEntry({ leaf: step.leaf, leafIndex: step.leaf_index, size: treeHead.size, proof: step.proof, root: treeHead.root });
  if (!ok) return { state: "failed", why: `the inclusion proof does not lead to the anchored root ${treeHead.root}` };
  return { state: "verified", why: `entry ${step.leaf_index} of ${treeHead.size} is in the log anchored in block ${treeHead.block_number}` };
}

function verdict(result) {
  if (result.state === "verified") return badge("proof verified ✓", "ok");
  if (result.state === "unanchored") return badge("not anchored yet", "warn");
  return badge("NOT verified", "bad");
}

function stepLine(step, result, text) {
  return el("span", { class: "step-line" }, `${text} ${when(step.at)} `, verdict(result), el("span", { class: "muted small" }, ` ${result.why}`));
}

function noticeItem(notice, told, acked) {
  const who = notice.brand_name || notice.brand;
  const state = notice.settled ? "acknowledged" : notice.told || notice.acknowledged ? "told" : "not-told";
  let head;
  if (notice.settled) head = badge("acknowledged", "ok");
  else if (notice.told || notice.acknowledged) head = badge("waiting for acknowledgement", "warn");
  else head = badge(notice.owed ? "not told yet" : "not told (it never received your data)", notice.owed ? "bad" : "");
  const ack = notice.acknowledged;
  return el(
    "li",
    {
      class: "item notice",
      dataset: { brand: notice.brand, event: notice.event_type, state, told: told ? told.state : "none", acked: acked ? acked.state : "none" },
    },
    el("h3", {}, who, head),
    facts([
      ["Change", `${CHANGE_WORDS[notice.event_type] || notice.event_type} on ${when(notice.occurred_at)}`],
      ["Brand", el("span", { class: "mono" }, notice.brand)],
      ["Told", notice.told ? stepLine(notice.told, told, "told at") : "not yet"],
      ["Acknowledged", ack ? stepLine(ack, acked, `${ACK_WORDS[ack.ack] || ack.ack} at`) : "not yet"],
      ["Transaction", notice.tx_hash ? el("span", { class: "mono" }, notice.tx_hash) : null],
    ]),
  );
}

function schedule(pending) {
  clearTimeout(timer);
  const go = (pending || Date.now() < expectUntil) && ctx.session.state.session;
  timer = go ? setTimeout(() => loadNotices().catch(() => {}), POLL_MS) : null;
}

/** A change was just made (a revocation confirmed, data erased): watch for its notices for a minute. */
export function watchNotices() {
  expectUntil = Date.now() + 60_000;
  return loadNotices().catch((error) => say(error.message, "error"));
}

export async function loadNotices() {
  if (!ctx.session.state.session) return schedule(false);
  const data = await api("/v1/me/notices");
  if (data.notices.length) expectUntil = 0;
  const options = { customer: ctx.session.state.session.address };
  const checks = await Promise.all(
    data.notices.map(async (n) => [
      n.told ? await checkStep(n.told, data.tree_head, options) : null,
      n.acknowledged ? await checkStep(n.acknowledged, data.tree_head, options) : null,
    ]),
  );
  const list = $("notices-list");
  if (!data.notices.length) fill(list, el("li", { class: "muted" }, "No brand has had to be told of a revocation or erasure of yours."));
  else fill(list, data.notices.map((n, i) => noticeItem(n, ...checks[i])));
  const failed = checks.flat().filter((r) => r && r.state === "failed").length;
  if (failed) say(`${failed} notice ${failed === 1 ? "step" : "steps"} could NOT be verified: see "Who was told".`, "error");
  const waiting = checks.flat().some((r) => r && r.state === "unanchored");
  schedule(waiting || data.notices.some((n) => !n.settled && (n.owed || n.told)));
}

export function setupNotices({ app, session }) {
  ctx = { app, session };
  $("notices-refresh").addEventListener("click", (event) => busy(event.currentTarget, loadNotices));
}
