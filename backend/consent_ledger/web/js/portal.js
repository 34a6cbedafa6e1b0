// The customer portal: wallet + sign-in, the catalog and notice, the grant form, and the
// signed-in sections (grants, accesses, my data) from their own modules.

import { api } from "./api.js";
import { $, badge, busy, el, fill, say } from "./ui.js";
import { setupSession } from "./session.js";
import * as wallet from "./wallet.js";
import { track } from "./submissions.js";
import { loadGrants, setupGrants } from "./grants.js";
import { loadAccesses, setupAccesses } from "./accesses.js";
import { loadNotices, setupNotices, watchNotices } from "./notices.js";
import { loadData, setupData } from "./mydata.js";

const app = { catalog: null, brands: [], health: null, session: null, maxDays: 730 };

function choice(entry, kind) {
  const id = `${kind}-${entry.name}`;
  const descId = `${id}-desc`;
  const input = el("input", { type: "checkbox", id, name: kind, value: entry.name, "aria-describedby": descId });
  const label = el("label", { for: id }, entry.label, entry.cpra_sensitive ? " " : "", entry.cpra_sensitive ? badge("sensitive", "sensitive") : "");
  return el("div", { class: "choice" }, input, label, el("span", { class: "desc", id: descId }, entry.description));
}

/** The data a purpose may use: one checkbox per category, named "<data> for <purpose>" for assistive
 * technology (the visible label is the data's own), everyday data first, then sensitive data. */
function dataChoices(purpose, categories) {
  const box = el("div", { class: "choices purpose-data", id: `data-for-${purpose.name}`, hidden: true });
  for (const c of [...categories.filter((x) => !x.cpra_sensitive), ...categories.filter((x) => x.cpra_sensitive)]) {
    const id = `data-${purpose.name}-${c.name}`;
    const input = el("input", { type: "checkbox", id, name: `data-for:${purpose.name}`, value: c.name, "aria-label": `${c.label} for ${purpose.label}` });
    const label = el("label", { for: id }, c.label, c.cpra_sensitive ? " " : "", c.cpra_sensitive ? badge("sensitive", "sensitive") : "");
    box.append(el("div", { class: "choice" }, input, label));
  }
  return box;
}

function renderCatalog(catalog) {
  fill(
    $("purpose-choices"),
    catalog.purposes.map((p) => el("div", { class: "purpose", dataset: { purpose: p.name } }, choice(p, "purpose"), dataChoices(p, catalog.categories))),
  );
  const notice = catalog.notice;
  fill($("notice-text"), notice.paragraphs.map((text) => el("p", {}, text)));
  $("notice-meta").textContent = `Notice version ${notice.version}. Its fingerprint (hash) is recorded with each grant you sign: ${notice.hash}`;
}

function renderBrands(brands) {
  const select = $("grant-brand");
  if (!brands.length) {
    fill(select, el("option", { value: "" }, "No brands are registered yet"));
    return;
  }
  fill(
    select,
    el("option", { value: "" }, "Choose a brand…"),
    brands.map((b) => el("option", { value: b.address }, `${b.name} (${b.address.slice(0, 8)}…)`)),
  );
}

function checked(name) {
  return Array.from(document.querySelectorAll(`input[name="${name}"]:checked`), (input) => input.value);
}

function entryOf(kind, name) {
  return (kind === "category" ? app.catalog.categories : app.catalog.purposes).find((e) => e.name === name);
}

function labelFor(kind, name) {
  const entry = entryOf(kind, name);
  return entry ? entry.label : name;
}

/** The grant's terms as the form holds them: each ticked purpose with the data ticked under it,
 * in catalog order (the order the signed message lists them). */
function terms() {
  return checked("purpose").map((purpose) => ({ purpose, categories: checked(`data-for:${purpose}`) }));
}

function days() {
  const value = Number($("grant-days").value);
  return Number.isInteger(value) && value >= 1 && value <= app.maxDays ? value : null;
}

/** A category mask as the signed message writes it (a decimal uint64). */
function maskOf(names) {
  return names.reduce((mask, name) => mask | BigInt(entryOf("category", name).mask), 0n).toString();
}

/** The same terms as the wallet shows them: `purposes`, the mask of the purposes' bits, and
 * `categoriesPerPurpose`, one category mask per purpose in ascending order of its bit. */
function walletNumbers(chosen) {
  const ordered = chosen.map((t) => ({ ...t, bit: entryOf("purpose", t.purpose).bit })).sort((a, b) => a.bit - b.bit);
  const purposes = ordered.reduce((mask, t) => mask | (1n << BigInt(t.bit)), 0n).toString();
  const each = ordered.map((t) => `${maskOf(t.categories)} for purpose ${t.bit} (${labelFor("purpose", t.purpose)})`);
  return `Your wallet shows the same terms as numbers: purposes ${purposes} (the purposes' bits), categoriesPerPurpose [${ordered.map((t) => maskOf(t.categories)).join(", ")}], that is ${each.join("; ")}.`;
}

function updateSummary() {
  if (!app.catalog) return;
  for (const box of document.querySelectorAll(".purpose-data")) {
    box.hidden = !document.getElementById(`purpose-${box.id.slice("data-for-".length)}`).checked;
  }
  const summary = $("grant-summary");
  const brand = app.brands.find((b) => b.address === $("grant-brand").value);
  const chosen = terms();
  const n = days();
  if (!brand || !chosen.length || chosen.some((t) => !t.categories.length) || n === null) {
    fill(summary, el("p", {}, `Pick a brand, at least one purpose, for each purpose at least one kind of data, and a number of days from 1 to ${app.maxDays}.`));
    return;
  }
  const until = new Date(Date.now() + n * 86_400_000).toLocaleDateString(undefined, { dateStyle: "long" });
  fill(
    summary,
    el("p", {}, `You are about to let ${brand.name}, until about ${until}:`),
    el(
      "ul",
      { id: "summary-terms" },
      chosen.map((t) => el("li", { dataset: { purpose: t.purpose } }, `for ${labelFor("purpose", t.purpose)}, use ${t.categories.map((c) => labelFor("category", c)).join(", ")}`)),
    ),
    el("p", {}, "Each purpose may use only the data listed with it, nothing else. You can revoke this at any time."),
    el("p", { class: "muted small", id: "summary-wallet" }, walletNumbers(chosen)),
  );
}

function setSignedIn(session) {
  app.session = session;
  $("account").hidden = !session;
  $("grant-btn").disabled = !session;
  $("grant-hint").textContent = session ? "Your wallet will ask you to sign; signing is free." : "Connect your wallet and sign in first.";
  if (session && app.catalog) refreshAccount();
}

async function refreshAccount() {
  await Promise.all([loadGrants(), loadAccesses(), loadNotices(), loadData()].map((p) => p.catch((error) => say(error.message, "error"))));
}

async function grant(event) {
  event.preventDefault();
  const button = $("grant-btn");
  await busy(button, async () => {
    if (!app.session) throw new Error("Sign in first.");
    const brand = $("grant-brand").value;
    const chosen = terms();
    const n = days();
    if (!brand) throw new Error("Choose a brand.");
    if (!chosen.length) throw new Error("Choose at least one purpose.");
    const empty = chosen.find((t) => !t.categories.length);
    if (empty) throw new Error(`Choose the data "${labelFor("purpose", empty.purpose)}" may use.`);
    if (n === null) throw new Error(`Enter a number of days from 1 to ${app.maxDays}.`);
    if (!(await session.ensureReady())) return;
    say("Preparing the grant for your signature…");
    const typed = await api("/v1/me/typed-data/grant", { method: "POST", body: { brand, terms: chosen, days: n } });
    if (Number(typed.domain.chainId) !== session.state.apiChain) throw new Error("The server prepared a message for another chain; reload the page.");
    say("Check your wallet: review the grant and sign it. Signing is free; we relay it to the chain for you.");
    const signature = await wallet.signTypedData(session.state.address, typed);
    const submission = await api("/v1/me/submissions", {
      method: "POST",
      body: { kind: "grant", message: typed.message, signature },
    });
    const final = await track(submission);
    if (final.status === "confirmed") await loadGrants();
  });
}

/** Sign a revocation (typed data) and follow it through the relayer. Used by the grants list. */
async function revokeBySignature(brand) {
  if (!(await session.ensureReady())) return;
  const typed = await api("/v1/me/typed-data/revoke", { method: "POST", body: { brand } });
  say("Check your wallet: sign the revocation. Signing is free.");
  const signature = await wallet.signTypedData(session.state.address, typed);
  const submission = await api("/v1/me/submissions", { method: "POST", body: { kind: "revoke", message: typed.message, signature } });
  const final = await track(submission);
  if (final.status === "confirmed") await Promise.all([loadGrants(), watchNotices()]);
}

const session = setupSession({
  scope: "session",
  onSignedIn: (s) => setSignedIn(s),
  onSignedOut: () => setSignedIn(null),
});

setupGrants({
  app,
  session,
  revokeBySignature,
});
setupAccesses({ app, session });
setupNotices({ app, session });
setupData({ app, session });

$("grant-form").addEventListener("submit", grant);
$("grant-form").addEventListener("change", updateSummary);
$("grant-days").addEventListener("input", updateSummary);

async function start() {
  try {
    const [catalog, brands, health] = await Promise.all([api("/v1/catalog", { auth: false }), api("/v1/brands", { auth: false }), api("/v1/health", { auth: false })]);
    app.catalog = catalog;
    app.brands = brands.brands;
    app.health = health;
    renderCatalog(catalog);
    renderBrands(app.brands);
    try {
      app.maxDays = (await api("/v1/limits", { auth: false })).max_grant_days; // the contract's own bound
      $("max-days").textContent = String(app.maxDays);
      $("grant-days").max = String(app.maxDays);
    } catch (error) {
      say(`Could not read the longest grant from the contract (${error.message}); the form allows ${app.maxDays} days.`, "error");
    }
    updateSummary();
    if (health.chain && health.chain.ok === false) say(`The chain is not answering right now: ${health.chain.error}`, "error");
    if (app.session) refreshAccount();
  } catch (error) {
    say(`Could not load the catalog: ${error.message}`, "error");
  }
}

start();
