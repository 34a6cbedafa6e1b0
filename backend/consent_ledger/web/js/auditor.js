// The auditor console: the timeline of consent events with filters, the latest anchored tree
// head, the last verification (and a button to run one), and downloads.

import { ApiError, api, download } from "./api.js";
import { $, badge, busy, el, facts, fill, labelsOf, say, when } from "./ui.js";
import { setupSession } from "./session.js";
import { loadWaiting } from "./waiting.js";

const KINDS = {
  granted: ["Grant", "ok"],
  revoked: ["Revocation", "warn"],
  grant_rejected: ["Rejected grant", "bad"],
  revoke_rejected: ["Rejected revocation", "bad"],
  released: ["Release", ""],
  anchored: ["Anchor", ""],
};
const KNOWN = ["id", "kind", "timestamp", "block_number", "customer", "brand", "categories", "purposes", "terms", "expires_at", "reason", "size", "root", "tx_hash", "sender"];
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const brands = new Map();
const catalog = { purposes: [], categories: [] }; // labels, once /v1/catalog answered; names until then
let cursor = null;

function text(value) {
  if (Array.isArray(value)) return value.join(", ");
  if (value && typeof value === "object") return JSON.stringify(value);
  return value === null || value === undefined ? "" : String(value);
}

const mono = (value) => (value ? el("span", { class: "mono" }, text(value)) : "");
const timeOf = (value) => (typeof value === "number" || /^\d+$/.test(String(value)) ? when(Number(value)) : when(value));

function brandLabel(address) {
  if (!address) return "";
  const name = brands.get(address.toLowerCase());
  return name ? `${name} (${address})` : address;
}

const LABELS = { log_size: "Entries in the log now", chain_id: "Chain", custodian: "Custodian", log_index: "Log index" };

function nice(key) {
  if (LABELS[key]) return LABELS[key];
  const words = key.replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Any fields the server adds beyond the documented ones, shown as they are (hex in monospace). */
function extras(object, known) {
  return Object.entries(object)
    .filter(([key, value]) => !known.includes(key) && value !== null && value !== undefined && value !== "")
    .map(([key, value]) => [nice(key), typeof value === "string" && /^0x[0-9a-fA-F]{40,}$/.test(value) ? mono(value) : text(value)]);
}

/** A grant's terms, purpose by purpose: each purpose with only the categories it may use (issue 10). */
function termsList(terms) {
  return el(
    "ul",
    { class: "terms" },
    terms.map((t) =>
      el(
        "li",
        { dataset: { purpose: t.purpose, categories: t.categories.join(",") } },
        el("strong", {}, `${labelsOf([t.purpose], catalog.purposes)[0]}: `),
        labelsOf(t.categories, catalog.categories).join(", ") || "no data",
      ),
    ),
  );
}

function eventItem(item) {
  const [label, kind] = KINDS[item.kind] || [item.kind, ""];
  const perPurpose = Array.isArray(item.terms) && item.terms.length > 0;
  return el(
    "li",
    { class: "item", dataset: { kind: item.kind, id: String(item.id) } },
    el("h3", {}, badge(label, kind), el("span", { class: "small muted" }, timeOf(item.timestamp))),
    facts([
      ["Block", item.block_number],
      ["Customer", mono(item.customer)],
      ["Brand", brandLabel(item.brand)],
      // With per-purpose terms the flat lists are only their union: the terms say what each purpose may use.
      ["Terms, per purpose", perPurpose ? termsList(item.terms) : ""],
      [perPurpose ? "All categories (any purpose)" : "Categories", text(item.categories)],
      ["Purposes", perPurpose ? "" : text(item.purposes)],
      ["Expires", item.expires_at ? timeOf(item.expires_at) : ""],
      ["Reason", text(item.reason)],
      ["Log size", item.size],
      ["Root", mono(item.root)],
      ["Transaction", mono(item.tx_hash)],
      ["Sent by", mono(item.sender)],
      ...extras(item, KNOWN),
    ]),
  );
}

function query() {
  const params = new URLSearchParams();
  const customer = $("filter-customer").value.trim();
  if (customer && !ADDRESS.test(customer)) throw new Error("The customer filter must be an address (0x and 40 hex digits), or empty.");
  if (customer) params.set("customer", customer);
  if ($("filter-brand").value) params.set("brand", $("filter-brand").value);
  if ($("filter-kind").value) params.set("kind", $("filter-kind").value);
  const limit = Number($("filter-limit").value);
  params.set("limit", String(Number.isInteger(limit) && limit >= 1 && limit <= 1000 ? limit : 50));
  return params;
}

async function loadTimeline(append) {
  const params = query();
  if (append && cursor !== null) params.set("after", String(cursor));
  const page = await api(`/v1/audit/history?${params}`);
  const list = $("timeline");
  if (!append) list.replaceChildren();
  for (const item of page.items) list.append(eventItem(item));
  cursor = page.next ?? null;
  $("more-btn").hidden = cursor === null;
  const shown = list.querySelectorAll("li.item").length;
  $("timeline-count").textContent = shown ? `${shown} event(s) shown${cursor === null ? "" : "; more are available"}.` : "No events match these filters.";
}

async function loadTreeHead() {
  const box = $("tree-head-box");
  let head;
  try {
    head = await api("/v1/audit/tree-head");
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    head = null;
  }
  // Either the anchor itself, or {log_size, anchored: anchor | null, ...} around it.
  const wrapped = head && typeof head === "object" && "anchored" in head;
  const anchor = wrapped ? head.anchored : head;
  const repeated = wrapped && anchor ? Object.keys(anchor).filter((key) => anchor[key] === head[key]) : [];
  const context = wrapped ? extras(head, ["anchored", ...repeated]) : [];
  if (!anchor || anchor.size === undefined) {
    fill(box, el("p", { class: "muted" }, "No root of the access log has been anchored yet."), context.length ? facts(context) : null);
    return;
  }
  fill(
    box,
    facts([
      ["Entries anchored", anchor.size],
      ["Root", mono(anchor.root)],
      ["Anchored in block", anchor.block_number],
      ["Anchored at", anchor.anchored_at ? timeOf(anchor.anchored_at) : ""],
      ["Transaction", mono(anchor.tx_hash)],
      ...extras(anchor, ["size", "root", "block_number", "tx_hash", "anchored_at"]),
      ...context,
    ]),
  );
}

function renderVerification(result) {
  const box = $("verification-box");
  const violations = result.violations || [];
  fill(
    box,
    el("p", {}, result.ok ? badge("passed", "ok") : badge("FAILED", "bad"), ` Ran ${timeOf(result.ran_at)}.`),
    facts(Object.entries(result.summary || {}).filter(([key]) => key !== "ok").map(([key, value]) => [nice(key), text(value)])),
    violations.length
      ? el("ul", { class: "small", id: "violations" }, violations.map((v) => el("li", {}, el("strong", {}, `${v.kind}: `), v.detail)))
      : el("p", { class: "small muted" }, "No violations found."),
    (result.unacknowledged || []).length
      ? el("ul", { class: "small", id: "unacknowledged" }, result.unacknowledged.map((u) => el("li", {}, el("strong", {}, "unacknowledged: "), u.detail)))
      : null,
  );
}

async function loadVerification() {
  try {
    renderVerification(await api("/v1/audit/verification"));
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    fill($("verification-box"), el("p", { class: "muted" }, "No verification has run yet. Run one to check the access log, its anchors and the releases against the chain."));
  }
}

async function runVerification(event) {
  await busy(event.currentTarget, async () => {
    say("Verifying the access log against the chain…");
    const result = await api("/v1/audit/verification", { method: "POST" });
    renderVerification(result);
    say(result.ok ? "Verification passed." : `Verification FAILED: ${(result.violations || []).length} violation(s).`, result.ok ? "ok" : "error");
  });
}

const stamp = () => new Date().toISOString().slice(0, 19).replaceAll(":", "-");

function downloadButton(id, path, filename) {
  $(id).addEventListener("click", (event) =>
    busy(event.currentTarget, async () => {
      await download(path, filename());
      say("Download ready.", "ok");
    }),
  );
}

async function loadAll() {
  const tasks = [loadTreeHead(), loadVerification(), loadWaiting(), loadTimeline(false)];
  const results = await Promise.allSettled(tasks);
  const failed = results.filter((r) => r.status === "rejected").map((r) => r.reason.message);
  if (failed.length) say(failed.join(" "), "error");
}

setupSession({
  scope: "session",
  role: "auditor",
  roleHelp: "Signed in, but {address} is not an auditor. Auditors are the addresses listed in CONSENT_AUDITORS on the server.",
  onSignedIn: () => {
    $("audit").hidden = false;
    loadAll();
  },
  onSignedOut: () => {
    $("audit").hidden = true;
  },
});

$("filter-form").addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("filter-btn"), () => loadTimeline(false));
});
$("more-btn").addEventListener("click", (event) => busy(event.currentTarget, () => loadTimeline(true)));
$("verify-btn").addEventListener("click", runVerification);
$("waiting-refresh").addEventListener("click", (event) => busy(event.currentTarget, loadWaiting));
downloadButton("export-json", "/v1/audit/export?format=json", () => `consent-ledger-audit-${stamp()}.json`);
downloadButton("export-csv", "/v1/audit/export?format=csv", () => `consent-ledger-audit-${stamp()}.csv`);
$("receipts-form").addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("receipts-btn"), async () => {
    const customer = $("receipts-customer").value.trim();
    if (customer && !ADDRESS.test(customer)) throw new Error("The customer must be an address (0x and 40 hex digits), or empty for everyone.");
    const query = customer ? `?customer=${encodeURIComponent(customer)}` : "";
    await download(`/v1/audit/consent-receipts${query}`, `consent-receipts-${customer || "all"}.json`);
    say("Consent receipts downloaded.", "ok");
  });
});

api("/v1/catalog", { auth: false })
  .then((answer) => {
    catalog.purposes = answer.purposes;
    catalog.categories = answer.categories;
  })
  .catch((error) => say(`Could not load the catalog: ${error.message}`, "error"));

api("/v1/brands", { auth: false })
  .then(({ brands: list }) => {
    for (const b of list) {
      brands.set(b.address.toLowerCase(), b.name);
      $("filter-brand").append(el("option", { value: b.address }, b.name));
    }
  })
  .catch((error) => say(`Could not load the brands: ${error.message}`, "error"));
