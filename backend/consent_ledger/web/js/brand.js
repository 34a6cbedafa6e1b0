// The brand console: permission checks and releases for a few customers, showing exactly which
// fields were released, which categories were withheld and why, and the block of the decision.

import { api } from "./api.js";
import { $, badge, busy, el, facts, fill, labelsOf, say } from "./ui.js";
import { setupSession } from "./session.js";
import { forgetWebhooks, loadWebhooks, setupWebhooks } from "./webhooks.js";
import { forgetApiKeys, loadApiKeys, setupApiKeys } from "./apikeys.js";
import { forgetInsights, loadInsightBudget, renderInsightForm, setupInsights } from "./insights.js";

const app = { catalog: null };
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

function parseCustomers() {
  const parts = $("customers").value.split(/[\s,;]+/).filter(Boolean);
  const bad = parts.filter((p) => !ADDRESS.test(p));
  if (bad.length) throw new Error(`Not an address: ${bad.slice(0, 3).join(", ")}. Addresses are 0x followed by 40 hex digits.`);
  const unique = [...new Map(parts.map((p) => [p.toLowerCase(), p])).values()];
  if (!unique.length) throw new Error("Enter at least one customer address.");
  if (unique.length > 100) throw new Error("Ask for at most 100 customers at a time here.");
  return unique;
}

function askedCategories() {
  const names = Array.from(document.querySelectorAll('input[name="brand-category"]:checked'), (i) => i.value);
  if (!names.length) throw new Error("Choose at least one category.");
  return names;
}

function request() {
  const purpose = $("purpose").value;
  if (!purpose) throw new Error("Choose a purpose.");
  return { customers: parseCustomers(), categories: askedCategories(), purpose };
}

const catLabels = (names) => labelsOf(names, app.catalog.categories).join(", ");
const blockText = (block) => `block ${block.number} (${block.hash})`;

/** One question per (customer, category): which categories each customer allows now, at one block. */
async function checkPerCategory({ customers, categories, purpose }) {
  const questions = customers.flatMap((customer) => categories.map((category) => ({ customer, categories: [category], purpose })));
  const reply = await api("/v1/permissions/check", { method: "POST", body: { questions } });
  const allowed = new Map(customers.map((c) => [c.toLowerCase(), new Set()]));
  reply.answers.forEach((ok, i) => {
    if (ok) allowed.get(questions[i].customer.toLowerCase()).add(questions[i].categories[0]);
  });
  return { block: reply.block, allowed };
}

async function runCheck(event) {
  await busy(event.currentTarget, async () => {
    const asked = request();
    const { block, allowed } = await checkPerCategory(asked);
    $("check-result").hidden = false;
    $("check-block").textContent = `Answered by the contract at ${blockText(block)} for the purpose "${labelsOf([asked.purpose], app.catalog.purposes)[0]}".`;
    fill(
      $("check-list"),
      asked.customers.map((customer) => {
        const yes = asked.categories.filter((c) => allowed.get(customer.toLowerCase()).has(c));
        const no = asked.categories.filter((c) => !yes.includes(c));
        const verdict = no.length === 0 ? badge("all allowed", "ok") : yes.length === 0 ? badge("nothing allowed", "bad") : badge("partly allowed", "warn");
        return el(
          "li",
          { class: "item", dataset: { customer } },
          el("h3", {}, el("span", { class: "mono" }, customer), verdict),
          facts([
            ["Allowed", yes.length ? catLabels(yes) : "none"],
            ["Not allowed", no.length ? catLabels(no) : "none"],
          ]),
        );
      }),
    );
    say(`Permission checked for ${asked.customers.length} customer(s) at block ${block.number}.`, "ok");
  });
}

function fieldsTable(fields) {
  const body = el("tbody");
  for (const [name, value] of Object.entries(fields)) body.append(el("tr", {}, el("th", { scope: "row" }, name), el("td", {}, value)));
  return el("div", { class: "table-wrap" }, el("table", {}, el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Field"), el("th", { scope: "col" }, "Value"))), body));
}

function withheldReasons(customer, categories, check) {
  const allowed = check.allowed.get(customer.toLowerCase()) || new Set();
  return categories.map((c) => {
    const why = allowed.has(c) ? "granted, but we hold no data of this category" : "not granted to you for this purpose";
    return el("li", { dataset: { category: c } }, `${catLabels([c])}: ${why}`);
  });
}

function releasedItem(r, asked, check) {
  const withheld = asked.categories.filter((c) => !r.categories.includes(c));
  return el(
    "li",
    { class: "item", dataset: { customer: r.customer, outcome: "released" } },
    el("h3", {}, el("span", { class: "mono" }, r.customer), badge(withheld.length ? "partly released" : "released", withheld.length ? "warn" : "ok")),
    el("p", {}, `Released ${Object.keys(r.fields).length} field(s) of: ${catLabels(r.categories)}.`),
    fieldsTable(r.fields),
    withheld.length ? el("p", { class: "small" }, "Withheld:") : null,
    withheld.length ? el("ul", { class: "small withheld" }, withheldReasons(r.customer, withheld, check)) : null,
    facts([["Receipt", el("span", { class: "mono" }, r.receipt_id)]]),
  );
}

function withheldItem(w, asked, check) {
  return el(
    "li",
    { class: "item", dataset: { customer: w.customer, outcome: "withheld" } },
    el("h3", {}, el("span", { class: "mono" }, w.customer), badge("nothing released", "bad")),
    el("p", {}, `Nothing released: ${w.reason}.`),
    el("ul", { class: "small withheld" }, withheldReasons(w.customer, asked.categories, check)),
  );
}

async function runRelease(event) {
  event.preventDefault();
  await busy($("release-btn"), async () => {
    const asked = request();
    say("Asking the chain and the vault…");
    const result = await api("/v1/releases", { method: "POST", body: asked });
    // Why a category was withheld: ask the contract per category (a separate read, noted if at another block).
    const check = await checkPerCategory(asked);
    $("release-result").hidden = false;
    const purpose = labelsOf([result.purpose], app.catalog.purposes)[0];
    let text = `Decided by the contract at ${blockText(result.block)} for the purpose "${purpose}". Request ${result.request_id}.`;
    if (check.block.number !== result.block.number) text += ` The reasons for withheld categories were read at block ${check.block.number}.`;
    $("release-block").textContent = text;
    const released = new Map(result.released.map((r) => [r.customer.toLowerCase(), r]));
    const withheld = new Map(result.withheld.map((w) => [w.customer.toLowerCase(), w]));
    fill(
      $("release-list"),
      asked.customers.map((c) => {
        const key = c.toLowerCase();
        if (released.has(key)) return releasedItem(released.get(key), asked, check);
        return withheldItem(withheld.get(key) || { customer: c, reason: "no answer for this customer" }, asked, check);
      }),
    );
    const count = result.released.length;
    say(`Released data of ${count} of ${asked.customers.length} customer(s) at block ${result.block.number}.`, count ? "ok" : "info");
  });
}

function renderForm(catalog) {
  fill(
    $("brand-categories"),
    catalog.categories.map((c) => {
      const id = `brand-category-${c.name}`;
      const label = el("label", { for: id }, c.label, c.cpra_sensitive ? " " : "", c.cpra_sensitive ? badge("sensitive", "sensitive") : "");
      return el("div", { class: "choice" }, el("input", { type: "checkbox", id, name: "brand-category", value: c.name }), label, el("span", { class: "desc" }, c.name));
    }),
  );
  fill($("purpose"), el("option", { value: "" }, "Choose a purpose…"), catalog.purposes.map((p) => el("option", { value: p.name }, p.label)));
}

setupSession({
  scope: "session",
  role: "brand",
  roleHelp: "Signed in, but {address} is not a registered brand, so it cannot check permissions or receive data. Ask the operator to register it (consent-ledger brand add {address} \"Your brand\"), then sign in again.",
  onSignedIn: () => {
    for (const id of ["query-section", "insights-section", "webhooks-section", "apikeys-section"]) $(id).hidden = false;
    say("Signed in as a brand.", "ok");
    Promise.all([loadWebhooks(), loadApiKeys(), loadInsightBudget()]).catch((error) => say(`Could not load your endpoints, keys and privacy budget: ${error.message}`, "error"));
  },
  onSignedOut: () => {
    for (const id of ["query-section", "check-result", "release-result", "insights-section", "webhooks-section", "apikeys-section"]) $(id).hidden = true;
    forgetInsights();
    forgetWebhooks();
    forgetApiKeys();
  },
});

setupWebhooks();
setupApiKeys();
setupInsights();

$("check-btn").addEventListener("click", runCheck);
$("query-form").addEventListener("submit", runRelease);

api("/v1/catalog", { auth: false })
  .then((catalog) => {
    app.catalog = catalog;
    renderForm(catalog);
    renderInsightForm(catalog);
  })
  .catch((error) => say(`Could not load the catalog: ${error.message}`, "error"));
