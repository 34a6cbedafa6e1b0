// Brands side by side: no wallet, no sign-in. The figures come from GET /v1/stewardship/compare, which gives each
// brand's own stewardship figures, all counted up to one block. Every number in the table carries
// data-figure="<path in a brand's figures>" and data-brand, so it can be checked against that brand's own page.

import { api } from "./api.js";
import { barChart, timeChart } from "./charts.js";
import { duration, share } from "./formats.js";
import { $, badge, el, fail, fill, say, short, when } from "./ui.js";

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const FEWEST = 2;
const MOST = 8;
// One colour per brand, the same in every chart (distinct for 8 brands, each dark enough on white).
const PALETTE = ["#1f5fbf", "#b3261e", "#8a5300", "#1b7a3a", "#6a3ea1", "#00707a", "#a3246b", "#4d5b6a"];

const at = (figures, path) =>
  path.split(".").reduce((value, part) => (value === null || value === undefined ? null : value[part]), figures);

// [label, path in a brand's figures, how to print it]
const ROWS = [
  ["Grants given (new, renewed or widened)", "grants.given"],
  ["Grants narrowed", "grants.narrowed"],
  ["Grants revoked", "grants.revoked"],
  ["Grants in force", "grants.active"],
  ["Records released", "releases.total"],
  ["Aggregate questions asked", "insights.queries"],
  ["Privacy budget spent (epsilon)", "insights.epsilon_spent"],
  ["Revocations on the chain", "propagation.revocations"],
  ["Revocations delivered to the brand", "propagation.delivered"],
  ["Revocations acknowledged", "propagation.acknowledged"],
  ["Share of revocations acknowledged", "propagation.share_acknowledged", share],
  ["Median time to acknowledge", "propagation.median_seconds", duration],
  ["Worst time to acknowledge", "propagation.worst_seconds", duration],
  ["The access log verifies", "log.verifies", (v) => (v ? "yes" : "NO")],
  ["Leaves anchored", "log.anchored_leaves"],
  ["Last anchor (leaves)", "log.last_anchor.size", (v) => (v === null ? "none yet" : String(v))],
  ["Notice customers signed", "notices.0.version", (v) => (v === null ? "none yet" : v)],
];

function sideBySide(compared, names) {
  const head = el(
    "tr",
    {},
    el("th", { scope: "col" }, "Figure"),
    compared.brands.map((f, i) =>
      el("th", { scope: "col", class: "brand-col" }, el("span", { class: `swatch brand-${i % PALETTE.length}`, "aria-hidden": "true" }), names(f.brand, i)),
    ),
  );
  const body = ROWS.map(([label, path, print]) =>
    el(
      "tr",
      {},
      el("th", { scope: "row" }, label),
      compared.brands.map((f) => {
        const value = at(f, path);
        const text = value === null || value === undefined ? "none" : String(value);
        return el("td", { dataset: { figure: path, brand: f.brand, value: text } }, print ? print(value ?? null) : text);
      }),
    ),
  );
  return el(
    "table",
    { id: "side-by-side", class: "compare" },
    el("caption", { class: "visually-hidden" }, "Each brand's figures, one column per brand"),
    el("thead", {}, head),
    el("tbody", {}, body),
  );
}

function brandBars(id, title, label, compared, names, pick) {
  const rows = compared.brands
    .map((f, i) => ({ name: names(f.brand, i), value: pick(f) }))
    .filter((r) => r.value !== null && r.value !== undefined);
  return barChart(id, title, label, rows);
}

function propagation(compared, names) {
  const minutes = (s) => (s === null ? null : Math.round((s / 60) * 10) / 10);
  return [
    brandBars("chart-share", "Share of revocations acknowledged (%)", "percent", compared, names, (f) =>
      f.propagation.share_acknowledged === null ? null : Math.round(f.propagation.share_acknowledged * 1000) / 10,
    ),
    brandBars("chart-median", "Median time to acknowledge (minutes)", "minutes", compared, names, (f) =>
      minutes(f.propagation.median_seconds),
    ),
    brandBars("chart-worst", "Worst time to acknowledge (minutes)", "minutes", compared, names, (f) =>
      minutes(f.propagation.worst_seconds),
    ),
  ];
}

function releases(compared, names) {
  const totals = new Map();
  for (const f of compared.brands) {
    for (const r of f.releases.by_purpose) totals.set(r.name, (totals.get(r.name) || 0) + r.releases);
  }
  const purposes = [...totals.keys()].sort((a, b) => totals.get(b) - totals.get(a) || a.localeCompare(b));
  const top = Math.max(0, ...compared.brands.flatMap((f) => f.releases.by_purpose.map((r) => r.releases)));
  return compared.brands.map((f, i) => {
    const count = new Map(f.releases.by_purpose.map((r) => [r.name, r.releases]));
    const rows = purposes.map((name) => ({ name, value: count.get(name) || 0 }));
    const title = `${names(f.brand, i)}: records released by purpose`;
    return barChart(`chart-purposes-${i}`, title, "records", rows, { yMax: top, color: PALETTE[i % PALETTE.length] });
  });
}

function overTime(compared, names) {
  const days = [...new Set(compared.brands.flatMap((f) => f.daily.map((d) => d.day)))].sort();
  const series = (metric) =>
    compared.brands.map((f, i) => {
      const byDay = new Map(f.daily.map((d) => [d.day, d[metric]]));
      return { label: names(f.brand, i), values: days.map((day) => byDay.get(day) || 0), color: PALETTE[i % PALETTE.length] };
    });
  return [
    timeChart("chart-given", "Grants given per day", days, series("given")),
    timeChart("chart-revoked", "Grants revoked per day", days, series("revoked")),
  ];
}

function budget(compared, names) {
  const log = compared.brands[0].log; // one access log, the custodian's, for every brand
  const anchor = log.last_anchor;
  return [
    el(
      "p",
      { id: "log-line" },
      log.verifies ? badge("the log verifies", "ok") : badge("the log does NOT verify", "bad"),
      " ",
      anchor
        ? `Last anchor: ${anchor.size} leaves at block ${anchor.block_number} (${when(anchor.time)}). One access log, the custodian's, covers every brand.`
        : "No anchor yet.",
    ),
    el(
      "div",
      { class: "grid-2" },
      brandBars("chart-epsilon", "Privacy budget spent (epsilon)", "epsilon", compared, names, (f) => f.insights.epsilon_spent),
      brandBars("chart-queries", "Aggregate questions asked", "questions", compared, names, (f) => f.insights.queries),
    ),
  ];
}

function query(brands, block) {
  const params = new URLSearchParams();
  for (const brand of brands) params.append("brand", brand);
  if (block !== undefined) params.set("as_of", String(block));
  return params.toString();
}

async function brandList(selected) {
  const reply = await api("/v1/brands", { auth: false });
  const wanted = new Set(selected.map((b) => b.toLowerCase()));
  const box = $("brand-choices");
  reply.brands.forEach((b, i) => {
    const id = `pick-${i}`;
    box.append(
      el(
        "div",
        { class: "choice" },
        el("input", { type: "checkbox", id, name: "brand", value: b.address, checked: wanted.has(b.address.toLowerCase()) }),
        el("label", { for: id }, b.name),
        el("span", { class: "desc" }, b.address),
      ),
    );
  });
  return new Map(reply.brands.map((b) => [b.address.toLowerCase(), b.name]));
}

async function show(brands, known) {
  const compared = await api(`/v1/stewardship/compare?${query(brands)}`, { auth: false });
  const names = (address) => known.get(address.toLowerCase()) || short(address);
  const block = compared.as_of.block;
  $("title").textContent = `Compare brands: ${compared.brands.map((f) => names(f.brand)).join(", ")}`;
  document.title = `Consent Ledger · compare ${compared.brands.length} brands`;
  fill($("as-of"), `Every figure counts the chain up to block ${block} (${when(compared.as_of.time)}).`);
  fill($("table-box"), sideBySide(compared, names));
  const pinned = query(brands, block); // the downloads are the figures shown: the same block
  const json = $("download-json");
  json.href = `/v1/stewardship/compare?${pinned}`;
  json.download = `stewardship-compare-${block}.json`;
  const csv = $("download-csv");
  csv.href = `/v1/stewardship/compare/figures.csv?${pinned}`;
  csv.download = `stewardship-compare-${block}.csv`;
  $("figures").hidden = false;
  fill($("propagation"), ...propagation(compared, names));
  fill($("releases"), ...releases(compared, names));
  fill($("over-time"), ...overTime(compared, names));
  fill($("budget"), ...budget(compared, names));
  document.body.dataset.loaded = String(block);
}

function checkCount(event) {
  const ticked = $("brand-choices").querySelectorAll("input:checked").length;
  if (ticked < FEWEST || ticked > MOST) {
    event.preventDefault();
    say(`Choose ${FEWEST} to ${MOST} brands to compare (${ticked} chosen).`, "error");
    $("brand-choices").querySelector("input")?.focus();
  }
}

async function start() {
  const brands = new URLSearchParams(location.search).getAll("brand");
  $("pick-form").addEventListener("submit", checkCount);
  try {
    const known = await brandList(brands);
    if (brands.length < FEWEST) {
      say(`Choose ${FEWEST} to ${MOST} brands to compare.`);
      return;
    }
    const wrong = brands.find((b) => !ADDRESS.test(b));
    if (wrong !== undefined) throw new Error(`${wrong.slice(0, 60)} is not a brand address: 0x followed by 40 hex digits.`);
    await show(brands, known);
  } catch (error) {
    fail(error);
  }
}

start();
