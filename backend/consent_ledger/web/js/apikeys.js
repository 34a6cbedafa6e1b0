// The brand console's API keys (for the brand's servers): make one with chosen permissions (the key is
// shown once, with a copy button), list them with when each was last used, revoke one.

import { api } from "./api.js";
import { $, badge, busy, el, facts, fill, say, when } from "./ui.js";
import { hideOnce, showOnce, wireOnce } from "./shown-once.js";

const PATH = "/v1/brand/api-keys";
const state = { permissions: [] };

function renderPermissions(permissions) {
  if (permissions.map((p) => p.name).join() === state.permissions.map((p) => p.name).join()) return;
  state.permissions = permissions;
  fill(
    $("apikey-permissions"),
    permissions.map((p) => {
      const id = `apikey-permission-${p.name.replace(":", "-")}`;
      return el(
        "div",
        { class: "choice" },
        el("input", { type: "checkbox", id, name: "apikey-permission", value: p.name }),
        el("label", { for: id }, p.name),
        el("span", { class: "desc" }, p.description),
      );
    }),
  );
}

function keyItem(k) {
  const revoked = Boolean(k.revoked_at);
  const expired = !revoked && new Date(k.expires_at) <= new Date();
  const shown = revoked ? badge("revoked", "bad") : expired ? badge("expired", "warn") : badge("active", "ok");
  return el(
    "li",
    { class: "item apikey", dataset: { id: k.id, revoked: String(revoked) } },
    el("h3", {}, k.name, shown),
    facts([
      ["Key", el("span", { class: "mono" }, `${k.prefix}…`)],
      ["Permissions", k.permissions.join(", ")],
      ["Last used", k.last_used_at ? when(k.last_used_at) : "never"],
      ["Made", when(k.created_at)],
      ["Expires", when(k.expires_at)],
      ["Revoked", revoked ? when(k.revoked_at) : ""],
    ]),
    revoked ? null : el("div", { class: "actions" }, el("button", { type: "button", class: "secondary", dataset: { act: "revoke" }, "aria-label": `Revoke the key ${k.name}` }, "Revoke")),
  );
}

export async function loadApiKeys() {
  const data = await api(PATH);
  renderPermissions(data.permissions);
  const list = $("apikey-list");
  if (!data.keys.length) fill(list, el("li", { class: "muted" }, "No API key yet: make one above for your servers."));
  else fill(list, data.keys.map(keyItem));
}

async function create(event) {
  event.preventDefault();
  await busy($("apikey-create"), async () => {
    const name = $("apikey-name").value.trim();
    const permissions = Array.from(document.querySelectorAll('input[name="apikey-permission"]:checked'), (i) => i.value);
    const days = Number($("apikey-days").value);
    if (!name) throw new Error("Name the key after what uses it (for example: CRM sync).");
    if (!permissions.length) throw new Error("Choose at least one permission.");
    if (!Number.isInteger(days) || days < 1 || days > 730) throw new Error("A key lives 1 to 730 days.");
    const made = await api(PATH, { method: "POST", body: { name, permissions, expires_in_days: days } });
    showOnce("apikey", `API key "${made.name}":`, made.key);
    $("apikey-name").value = "";
    await loadApiKeys();
    say("Key made. Copy it now: it is shown only this once.", "ok");
  });
}

async function revoke(event) {
  const button = event.target.closest("button[data-act='revoke']");
  if (!button) return;
  const item = button.closest("li[data-id]");
  await busy(button, async () => {
    await api(`${PATH}/${encodeURIComponent(item.dataset.id)}`, { method: "DELETE" });
    await loadApiKeys();
    say("Key revoked: the next request with it is refused.", "ok");
  });
}

export function setupApiKeys() {
  $("apikey-form").addEventListener("submit", create);
  $("apikey-list").addEventListener("click", revoke);
  $("apikey-refresh").addEventListener("click", (event) => busy(event.currentTarget, loadApiKeys));
  wireOnce("apikey");
}

export function forgetApiKeys() {
  hideOnce("apikey");
  fill($("apikey-list"));
}
