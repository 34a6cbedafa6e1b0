// The customer portal: wallet + sign-in, the catalog and notice, the grant form, and the
// signed-in sections (grants, accesses, my data) from their own modules.

import { api } from "./api.js";
import { $, badge, busy, el, fill, say } from "./ui.js";
import { setupSession } from "./session.js";
import * as wallet from "./wallet.js";
import { track } from "./submissions.js";
import { loadGrants, setupGrants } from "./grants.js";
import { loadAccesses, setupAccesses } from "./accesses.js";
import { loadData, setupData } from "./mydata.js";

const app = { catalog: null, brands: [], health: null, session: null };

function choice(entry, kind) {
  const id = `${kind}-${entry.name}`;
  const descId = `${id}-desc`;
  const input = el("input", { type: "checkbox", id, name: kind, value: entry.name, "aria-describedby": descId });
  const label = el("label", { for: id }, entry.label, entry.cpra_sensitive ? " " : "", entry.cpra_sensitive ? badge("sensitive", "sensitive") : "");
  return el("div", { class: "choice" }, input, label, el("span", { class: "desc", id: descId }, entry.description));
}

function renderCatalog(catalog) {
  const everyday = catalog.categories.filter((c) => !c.cpra_sensitive);
  const sensitive = catalog.categories.filter((c) => c.cpra_sensitive);
  fill($("category-choices"), everyday.map((c) => choice(c, "category")));
  fill($("sensitive-choices"), sensitive.map((c) => choice(c, "category")));
  fill($("purpose-choices"), catalog.purposes.map((p) => choice(p, "purpose")));
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

function checked(kind) {
  return Array.from(document.querySelectorAll(`input[name="${kind}"]:checked`), (input) => input.value);
}

function labelFor(kind, name) {
  const list = kind === "category" ? app.catalog.categories : app.catalog.purposes;
  const entry = list.find((e) => e.name === name);
  return entry ? entry.label : name;
}

function days() {
  const value = Number($("grant-days").value);
  return Number.isInteger(value) && value >= 1 && value <= 730 ? value : null;
}

function updateSummary() {
  if (!app.catalog) return;
  const brand = app.brands.find((b) => b.address === $("grant-brand").value);
  const categories = checked("category").map((n) => labelFor("category", n));
  const purposes = checked("purpose").map((n) => labelFor("purpose", n));
  const n = days();
  if (!brand || !categories.length || !purposes.length || n === null) {
    $("grant-summary").textContent = "Pick a brand, at least one kind of data, at least one purpose and a number of days from 1 to 730.";
    return;
  }
  const until = new Date(Date.now() + n * 86_400_000).toLocaleDateString(undefined, { dateStyle: "long" });
  $("grant-summary").textContent = `You are about to let ${brand.name} use ${categories.join(", ")} for ${purposes.join(", ")} until about ${until}. You can revoke this at any time.`;
}

function setSignedIn(session) {
  app.session = session;
  $("account").hidden = !session;
  $("grant-btn").disabled = !session;
  $("grant-hint").textContent = session ? "Your wallet will ask you to sign; signing is free." : "Connect your wallet and sign in first.";
  if (session && app.catalog) refreshAccount();
}

async function refreshAccount() {
  await Promise.all([loadGrants(), loadAccesses(), loadData()].map((p) => p.catch((error) => say(error.message, "error"))));
}

async function grant(event) {
  event.preventDefault();
  const button = $("grant-btn");
  await busy(button, async () => {
    if (!app.session) throw new Error("Sign in first.");
    const brand = $("grant-brand").value;
    const categories = checked("category");
    const purposes = checked("purpose");
    const n = days();
    if (!brand) throw new Error("Choose a brand.");
    if (!categories.length) throw new Error("Choose at least one kind of data.");
    if (!purposes.length) throw new Error("Choose at least one purpose.");
    if (n === null) throw new Error("Enter a number of days from 1 to 730.");
    if (!(await session.ensureReady())) return;
    say("Preparing the grant for your signature…");
    const typed = await api("/v1/me/typed-data/grant", { method: "POST", body: { brand, categories, purposes, days: n } });
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
  if (final.status === "confirmed") await loadGrants();
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
    updateSummary();
    if (health.chain && health.chain.ok === false) say(`The chain is not answering right now: ${health.chain.error}`, "error");
    if (app.session) refreshAccount();
  } catch (error) {
    say(`Could not load the catalog: ${error.message}`, "error");
  }
}

start();
