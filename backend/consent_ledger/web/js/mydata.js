// "My data": view and edit the fields we hold, download everything (GDPR art. 20), and erase
// it for good (GDPR art. 17) behind a step where the customer types ERASE.

import { ApiError, api, download } from "./api.js";
import { $, busy, el, fill, say } from "./ui.js";
import { watchNotices } from "./notices.js";

let ctx = null;
let rowCount = 0;
const NAME = /^[a-z][a-z0-9_.-]{0,63}$/;

function categorySelect(id, selected) {
  const select = el("select", { id, name: "category" });
  for (const c of ctx.app.catalog.categories) {
    select.append(el("option", { value: c.name, selected: c.name === selected }, c.cpra_sensitive ? `${c.label} (sensitive)` : c.label));
  }
  return select;
}

function row(name = "", category = "contact.email", value = "", existing = false) {
  rowCount += 1;
  const n = rowCount;
  const nameInput = el("input", { type: "text", id: `field-name-${n}`, name: "name", value: name, readOnly: existing, autocomplete: "off", spellcheck: "false" });
  const valueInput = el("input", { type: "text", id: `field-value-${n}`, name: "value", value, autocomplete: "off" });
  const nameLabel = el("label", { for: nameInput.id, class: "visually-hidden" }, "Field name");
  return el(
    "tr",
    { dataset: { existing: existing ? "1" : "" } },
    el("td", { "data-label": "Field" }, nameLabel, nameInput),
    el("td", { "data-label": "Category" }, el("label", { for: `field-category-${n}`, class: "visually-hidden" }, "Category"), categorySelect(`field-category-${n}`, category)),
    el("td", { "data-label": "Value" }, el("label", { for: valueInput.id, class: "visually-hidden" }, "Value"), valueInput),
  );
}

function setErased(message) {
  fill($("data-rows"), el("tr", {}, el("td", { colspan: "3" }, message)));
  $("data-add").disabled = true;
  $("data-save").disabled = true;
  $("erase-open").disabled = true;
}

export async function loadData() {
  if (!ctx.app.catalog || !ctx.session.state.session) return;
  let fields;
  try {
    ({ fields } = await api("/v1/me/data"));
  } catch (error) {
    if (error instanceof ApiError && error.status === 410) {
      setErased(`Your data was erased. ${error.message}`);
      return;
    }
    throw error;
  }
  for (const id of ["data-add", "data-save", "erase-open"]) $(id).disabled = false;
  const rows = Object.entries(fields).map(([name, f]) => row(name, f.category, f.value, true));
  fill($("data-rows"), rows.length ? rows : [row()]);
}

function collect() {
  const fields = {};
  for (const tr of $("data-rows").querySelectorAll("tr")) {
    const name = tr.querySelector('input[name="name"]');
    if (!name) continue;
    const value = tr.querySelector('input[name="value"]').value;
    const category = tr.querySelector('select[name="category"]').value;
    const key = name.value.trim();
    if (!key && !value) continue;
    if (!NAME.test(key)) {
      name.focus();
      throw new Error(`"${key}" cannot be a field name: use lower-case letters, digits, "_", "." or "-", starting with a letter.`);
    }
    fields[key] = { category, value };
  }
  if (!Object.keys(fields).length) throw new Error("Add at least one field with a name and a value.");
  return fields;
}

async function save(event) {
  event.preventDefault();
  await busy($("data-save"), async () => {
    const fields = collect();
    await api("/v1/me/data", { method: "PUT", body: { fields } });
    say(`Saved ${Object.keys(fields).length} field(s), encrypted.`, "ok");
    await loadData();
  });
}

async function exportData(event) {
  await busy(event.currentTarget, async () => {
    const address = ctx.session.state.session.address;
    await download("/v1/me/data/export", `consent-ledger-my-data-${address}.json`);
    say("Your data was downloaded as a JSON file.", "ok");
  });
}

async function erase(event) {
  await busy(event.currentTarget, async () => {
    if ($("erase-confirm").value !== "ERASE") throw new Error("Type ERASE (in capitals) to confirm.");
    const result = await api("/v1/me/data?confirm=ERASE", { method: "DELETE" });
    $("erase-box").hidden = true;
    say(`Erased: ${result.erased_fields} field(s) and your encryption key are gone for good.`, "ok");
    setErased("Your data was erased; nothing more can be stored for this address.");
    watchNotices();
  });
}

export function setupData({ app, session }) {
  ctx = { app, session };
  $("data-form").addEventListener("submit", save);
  $("data-add").addEventListener("click", () => {
    const tr = row();
    $("data-rows").append(tr);
    tr.querySelector("input").focus();
  });
  $("data-export").addEventListener("click", exportData);
  $("erase-open").addEventListener("click", () => {
    $("erase-box").hidden = false;
    $("erase-confirm").value = "";
    $("erase-btn").disabled = true;
    $("erase-confirm").focus();
  });
  $("erase-cancel").addEventListener("click", () => {
    $("erase-box").hidden = true;
    $("erase-open").focus();
  });
  $("erase-confirm").addEventListener("input", () => {
    $("erase-btn").disabled = $("erase-confirm").value !== "ERASE";
  });
  $("erase-btn").addEventListener("click", erase);
}
