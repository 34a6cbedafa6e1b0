// The customer's current grants (read from the chain by the API), each with two ways to revoke:
// a signed message relayed for free, or the contract's revoke(brand) sent from the wallet itself.

import { api } from "./api.js";
import { $, badge, busy, el, facts, fill, say, when } from "./ui.js";
import * as wallet from "./wallet.js";
import { watchNotices } from "./notices.js";

// bytes4(keccak256("revoke(address)")): the contract's own revoke, callable only by the customer.
// The e2e tests check this constant against the compiled ABI.
export const REVOKE_SELECTOR = "0x74a8f103";

let ctx = null;

/** Calldata of revoke(address brand): the selector and the address left-padded to 32 bytes. */
export function revokeCalldata(brand) {
  if (!/^0x[0-9a-fA-F]{40}$/.test(brand)) throw new Error(`not an address: ${brand}`);
  return REVOKE_SELECTOR + brand.slice(2).toLowerCase().padStart(64, "0");
}

function labelled(names, entries) {
  const byName = new Map(entries.map((e) => [e.name, e]));
  const list = el("ul", { class: "chips" });
  for (const name of names) {
    const entry = byName.get(name);
    list.append(
      el("li", {}, entry ? entry.label : name, entry && entry.cpra_sensitive ? " " : "", entry && entry.cpra_sensitive ? badge("sensitive", "sensitive") : ""),
    );
  }
  return list;
}

function purposeLabel(name) {
  const entry = ctx.app.catalog.purposes.find((p) => p.name === name);
  return entry ? entry.label : name;
}

function grantItem(grant) {
  const name = grant.brand_name || "Unnamed brand";
  const revoke = el("button", { type: "button", class: "danger secondary", dataset: { brand: grant.brand, action: "revoke" } }, "Revoke");
  const direct = el("button", { type: "button", class: "secondary", dataset: { brand: grant.brand, action: "revoke-direct" } }, "Revoke directly from my wallet");
  revoke.setAttribute("aria-label", `Revoke the grant to ${name}`);
  direct.setAttribute("aria-label", `Revoke the grant to ${name} directly from my wallet`);
  return el(
    "li",
    { class: "item", dataset: { brand: grant.brand } },
    el("h3", {}, name, el("span", { class: "muted small mono" }, grant.brand)),
    facts([
      ...grant.terms.map((t) => [`For ${purposeLabel(t.purpose)}`, labelled(t.categories, ctx.app.catalog.categories)]),
      ["Granted", when(grant.granted_at)],
      ["Until", when(grant.expires_at)],
    ]),
    el("div", { class: "actions" }, revoke, direct),
  );
}

export async function loadGrants() {
  if (!ctx.app.catalog) return;
  const { grants } = await api("/v1/me/grants");
  const list = $("grants-list");
  if (!grants.length) {
    fill(list, el("li", { class: "muted" }, "You have no active grants: no brand may use your data."));
    return;
  }
  fill(list, grants.map(grantItem));
}

async function revokeDirect(brand) {
  const session = ctx.session;
  if (!(await session.ensureReady())) return;
  const contract = ctx.app.health && ctx.app.health.chain && ctx.app.health.chain.contract;
  if (!contract) throw new Error("The contract address is unknown: reload the page.");
  say("Check your wallet: confirm the revocation transaction. It is sent from your own account and costs a little gas.");
  const hash = await wallet.sendTransaction({ from: session.state.address, to: contract, data: revokeCalldata(brand), value: "0x0" });
  say(`Transaction ${hash} sent; waiting for it to be mined…`);
  const receipt = await wallet.waitForReceipt(hash);
  if (!receipt) {
    say(`Transaction ${hash} is not mined yet. Check your wallet's activity list; refresh this page later.`, "error");
    return;
  }
  if (receipt.status !== "0x1" && receipt.status !== 1) {
    say(`The revocation transaction ${hash} failed on-chain (reverted); nothing changed.`, "error");
    return;
  }
  say(`Revoked directly on-chain in block ${Number.parseInt(receipt.blockNumber, 16)} (transaction ${hash}).`, "ok");
  await Promise.all([loadGrants(), watchNotices()]);
}

export function setupGrants({ app, session, revokeBySignature }) {
  ctx = { app, session };
  $("grants-list").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const brand = button.dataset.brand;
    const task = button.dataset.action === "revoke" ? () => revokeBySignature(brand) : () => revokeDirect(brand);
    busy(button, task);
  });
}
