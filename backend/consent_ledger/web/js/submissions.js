// Watch a signed message go accepted -> submitted -> confirmed (or rejected) in the relayer's outbox.

import { api } from "./api.js";
import { $, el, fill, say, sleep } from "./ui.js";

const STEPS = [
  ["accepted", "Accepted by the server"],
  ["submitted", "Sent to the chain"],
  ["confirmed", "Confirmed on-chain"],
];

function render(submission) {
  const status = submission.status;
  const reached = STEPS.findIndex(([name]) => name === status);
  const items = STEPS.map(([name, label], index) => {
    let cls = "";
    if (status === "rejected") cls = index === 0 ? "done" : "";
    else if (index < reached || status === "confirmed") cls = "done";
    else if (index === reached) cls = "current";
    return el("li", { class: cls, dataset: { step: name } }, label);
  });
  if (status === "rejected") items.push(el("li", { class: "failed", dataset: { step: "rejected" } }, "Rejected"));
  fill($("progress-steps"), items);
  const what = submission.kind === "revoke" ? "revocation" : "grant";
  const text = {
    accepted: `Your ${what} was checked and queued; it is being sent to the chain.`,
    submitted: `Your ${what} was sent to the chain (transaction ${submission.tx_hash || "pending"}); waiting for a block.`,
    confirmed: `Your ${what} is confirmed on-chain in block ${submission.block_number} (transaction ${submission.tx_hash}).`,
    rejected: `Your ${what} was rejected: ${submission.reason || "no reason given"}. Nothing changed on-chain.`,
  }[status] || `Status: ${status}`;
  $("progress-text").textContent = text;
  $("progress").dataset.status = status;
  $("progress").dataset.id = String(submission.id);
  return text;
}

/** Show `submission` and poll it until it is final; resolves to the last status object. */
export async function track(submission, { timeoutMs = 180_000 } = {}) {
  $("progress").hidden = false;
  let current = submission;
  say(render(current));
  const end = Date.now() + timeoutMs;
  let delay = 300;
  while (!["confirmed", "rejected"].includes(current.status) && Date.now() < end) {
    await sleep(delay);
    delay = Math.min(delay * 1.3, 2_000);
    const next = await api(`/v1/me/submissions/${encodeURIComponent(current.id)}`);
    if (next.status !== current.status) say(render(next), next.status === "rejected" ? "error" : "info");
    current = next;
  }
  if (current.status === "confirmed") say(render(current), "ok");
  else if (current.status === "rejected") say(render(current), "error");
  else say("Still waiting for the chain. The message is stored safely; check back in a moment.", "info");
  return current;
}
