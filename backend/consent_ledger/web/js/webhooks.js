// The brand console's webhook endpoints: add one (URL and the event kinds it gets), its signing
// secret shown once with a copy button, rotate the secret, enable an endpoint that was disabled after
// failing deliveries (showing why), delete.

import { api } from "./api.js";
import { $, badge, busy, el, facts, fill, say, when } from "./ui.js";
import { hideOnce, showOnce, wireOnce } from "./shown-once.js";

const PATH = "/v1/webhooks/endpoints";
const KINDS = {
  "consent.granted": "Consent granted",
  "consent.narrowed": "Consent narrowed",
  "consent.revoked": "Consent revoked",
  "consent.expired": "Consent expired",
  "data.erased": "Data erased",
  "data.released": "Data released to you",
};
const state = { kinds: [] };
const kindLabel = (name) => KINDS[name] || name;

function renderKinds(kinds) {
  if (kinds.join() === state.kinds.join()) return;
  state.kinds = kinds;
  fill(
    $("webhook-kinds"),
    kinds.map((name) => {
      const id = `webhook-kind-${name.replace(".", "-")}`;
      return el(
        "div",
        { class: "choice" },
        el("input", { type: "checkbox", id, name: "webhook-kind", value: name, checked: name === "consent.revoked" || name === "data.erased" }),
        el("label", { for: id }, kindLabel(name)),
        el("span", { class: "desc" }, name),
      );
    }),
  );
}

function disabledNotice(e) {
  if (e.enabled) return null;
  return el(
    "div",
    { class: "warning", dataset: { role: "disabled-notice" } },
    el("p", {}, el("strong", {}, "Disabled "), `${when(e.disabled_at)}: ${e.disabled_reason || "no reason recorded"}.`),
    el("p", { class: "small" }, "Nothing is sent to it while it is disabled. Fix the endpoint, then enable it: deliveries resume."),
  );
}

function endpointItem(e) {
  const actions = el(
    "div",
    { class: "actions" },
    e.enabled ? null : el("button", { type: "button", dataset: { act: "enable" }, "aria-label": `Enable ${e.url}` }, "Enable"),
    el("button", { type: "button", class: "secondary", dataset: { act: "rotate" }, "aria-label": `Rotate the secret of ${e.url}` }, "Rotate secret"),
    el("button", { type: "button", class: "secondary", dataset: { act: "delete" }, "aria-label": `Delete ${e.url}` }, "Delete"),
  );
  return el(
    "li",
    { class: "item webhook", dataset: { id: e.id, enabled: String(e.enabled) } },
    el("h3", {}, el("span", { class: "mono" }, e.url), e.enabled ? badge("enabled", "ok") : badge("disabled", "bad"), e.failing_since && e.enabled ? badge("failing", "warn") : null),
    disabledNotice(e),
    facts([
      ["Events", e.event_types.map(kindLabel).join(", ")],
      ["Description", e.description],
      ["Added", when(e.created_at)],
      ["Failing since", e.failing_since ? when(e.failing_since) : ""],
      ["Id", el("span", { class: "mono" }, e.id)],
    ]),
    actions,
  );
}

export async function loadWebhooks() {
  const data = await api(PATH);
  renderKinds(data.event_types);
  const list = $("webhook-list");
  if (!data.endpoints.length) fill(list, el("li", { class: "muted" }, "No endpoint yet: add one above to be told of your customers' consent changes."));
  else fill(list, data.endpoints.map(endpointItem));
}

async function create(event) {
  event.preventDefault();
  await busy($("webhook-create"), async () => {
    const url = $("webhook-url").value.trim();
    const kinds = Array.from(document.querySelectorAll('input[name="webhook-kind"]:checked'), (i) => i.value);
    if (!url) throw new Error("Enter the endpoint's URL (https://…).");
    if (!kinds.length) throw new Error("Choose at least one kind of event to send.");
    const made = await api(PATH, { method: "POST", body: { url, event_types: kinds, description: $("webhook-description").value.trim() } });
    showOnce("webhook", `Signing secret of ${made.url}:`, made.secret);
    $("webhook-url").value = "";
    $("webhook-description").value = "";
    await loadWebhooks();
    say("Endpoint added. Copy its signing secret now: it is shown only this once.", "ok");
  });
}

async function act(event) {
  const button = event.target.closest("button[data-act]");
  if (!button) return;
  const item = button.closest("li[data-id]");
  const id = item.dataset.id;
  const url = item.querySelector("h3 .mono").textContent;
  await busy(button, async () => {
    const where = `${PATH}/${encodeURIComponent(id)}`;
    if (button.dataset.act === "rotate") {
      const rotated = await api(`${where}/rotate-secret`, { method: "POST" });
      showOnce("webhook", `New signing secret of ${url} (the old one keeps signing until ${when(rotated.previous_secret_expires_at)}):`, rotated.secret);
      say("Secret rotated. Copy the new one now; both sign webhooks for 24 hours.", "ok");
    } else if (button.dataset.act === "enable") {
      await api(`${where}/enable`, { method: "POST" });
      say(`Enabled ${url}: deliveries resume.`, "ok");
    } else if (button.dataset.act === "delete") {
      await api(where, { method: "DELETE" });
      hideOnce("webhook");
      say(`Deleted ${url}: nothing more is sent to it.`, "ok");
    }
    await loadWebhooks();
  });
}

export function setupWebhooks() {
  $("webhook-form").addEventListener("submit", create);
  $("webhook-list").addEventListener("click", act);
  $("webhook-refresh").addEventListener("click", (event) => busy(event.currentTarget, loadWebhooks));
  wireOnce("webhook");
}

export function forgetWebhooks() {
  hideOnce("webhook");
  fill($("webhook-list"));
}
