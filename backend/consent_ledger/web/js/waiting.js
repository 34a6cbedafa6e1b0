// The auditor's list of brands that still owe an answer: revocations and erasures told but not
// acknowledged ("stopped processing" / "deleted"), or owed and never told, with how long each waited.

import { api } from "./api.js";
import { $, badge, el, facts, fill, when } from "./ui.js";

const CHANGE = { "consent.revoked": "revocation", "data.erased": "erasure" };

/** "3 d 4 h", "5 min", "12 s": a wait for people. */
export function duration(seconds) {
  const units = [["d", 86_400], ["h", 3600], ["min", 60], ["s", 1]];
  const parts = [];
  let left = Math.max(0, Math.floor(seconds));
  for (const [name, size] of units) {
    if (left >= size || (name === "s" && !parts.length)) {
      parts.push(`${Math.floor(left / size)} ${name}`);
      left %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(" ");
}

function noticeLine(n) {
  const what = `${CHANGE[n.event_type] || n.event_type} of ${n.customer} (${when(n.occurred_at)})`;
  const state = n.state === "not_told" ? `never told, for ${duration(n.waiting_seconds)}` : `told ${when(n.told_at)}, waiting ${duration(n.waiting_seconds)}`;
  return el("li", { dataset: { state: n.state, customer: n.customer } }, `${what}: ${state}`);
}

function brandItem(b) {
  return el(
    "li",
    { class: "item waiting", dataset: { brand: b.brand } },
    el("h3", {}, b.brand_name || b.brand, b.not_told ? badge(`${b.not_told} never told`, "bad") : null, b.unacknowledged ? badge(`${b.unacknowledged} unacknowledged`, "warn") : null),
    facts([
      ["Brand", el("span", { class: "mono" }, b.brand)],
      ["Longest wait", duration(b.longest_wait_seconds)],
    ]),
    el("ul", { class: "small" }, b.notices.map(noticeLine)),
  );
}

export async function loadWaiting() {
  const data = await api("/v1/audit/unacknowledged");
  $("waiting-as-of").textContent = `As of the chain's time ${when(data.as_of)}.`;
  const list = $("waiting-list");
  if (!data.brands.length) fill(list, el("li", { class: "muted" }, "Every brand has acknowledged every revocation and erasure it was told of."));
  else fill(list, data.brands.map(brandItem));
}
