// A brand's public stewardship page: no wallet, no sign-in. The figures come from GET /v1/stewardship/{brand},
// which computes them from the chain and the anchored access log only (stewardship/figures.py); every number
// shown carries data-figure="<path in that JSON>", so it can be checked against the report command.

import { api } from "./api.js";
import { barChart, timeChart } from "./charts.js";
import { duration, share } from "./formats.js";
import { $, badge, el, fail, fill, say, when } from "./ui.js";

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/** A definition list whose values are tagged with their path in the figures document. */
export function figureFacts(rows) {
  const list = el("dl", { class: "facts" });
  for (const [label, path, value, shown] of rows) {
    const text = value === null || value === undefined ? "none" : String(value);
    list.append(el("dt", {}, label), el("dd", { dataset: { figure: path, value: text } }, shown ?? text));
  }
  return list;
}

function summary(f) {
  const log = f.log;
  const anchor = log.last_anchor;
  const verifies = log.verifies ? badge("the log verifies", "ok") : badge("the log does NOT verify", "bad");
  const notice = f.notices[0];
  return [
    figureFacts([
      ["As of block", "as_of.block", f.as_of.block, `${f.as_of.block} (${when(f.as_of.time)})`],
      ["Access log", "log.verifies", log.verifies, verifies],
      ["Leaves anchored", "log.anchored_leaves", log.anchored_leaves],
      ["Last anchor", "log.last_anchor.size", anchor ? anchor.size : null,
        anchor ? `${anchor.size} leaves, block ${anchor.block_number} (${when(anchor.time)})` : "none yet"],
      ["Grants in force", "grants.active", f.grants.active],
      ["Notice customers signed", "notices.0.version", notice ? notice.version : null,
        notice ? `${notice.version || "unknown version"} (${notice.grants} grants)` : "none yet"],
    ]),
    log.problems.length ? el("ul", { class: "warning" }, log.problems.map((p) => el("li", {}, p))) : null,
  ];
}

function grants(f) {
  const days = f.daily.map((d) => d.day);
  return [
    figureFacts([
      ["Given (new, renewed or widened)", "grants.given", f.grants.given],
      ["Narrowed", "grants.narrowed", f.grants.narrowed],
      ["Revoked", "grants.revoked", f.grants.revoked],
    ]),
    timeChart("chart-grants", "Grants given, narrowed and revoked per day", days, [
      { label: "given", values: f.daily.map((d) => d.given) },
      { label: "narrowed", values: f.daily.map((d) => d.narrowed) },
      { label: "revoked", values: f.daily.map((d) => d.revoked) },
    ]),
  ];
}

function releases(f) {
  const rows = (list) => list.map((r) => ({ name: r.name, value: r.releases }));
  return [
    figureFacts([["Records released", "releases.total", f.releases.total]]),
    el(
      "div",
      { class: "grid-2" },
      barChart("chart-purposes", "Records released by purpose", "records", rows(f.releases.by_purpose)),
      barChart("chart-categories", "Records released by category", "records", rows(f.releases.by_category)),
    ),
    timeChart("chart-releases", "Records released per day", f.daily.map((d) => d.day), [
      { label: "records", values: f.daily.map((d) => d.releases) },
    ]),
  ];
}

function insights(f) {
  return [
    figureFacts([
      ["Questions asked", "insights.queries", f.insights.queries],
      ["Privacy budget spent (epsilon)", "insights.epsilon_spent", f.insights.epsilon_spent],
    ]),
    timeChart("chart-insights", "Questions and epsilon spent per day", f.daily.map((d) => d.day), [
      { label: "questions", values: f.daily.map((d) => d.insight_queries) },
      { label: "epsilon", values: f.daily.map((d) => d.epsilon) },
    ]),
  ];
}

function propagation(f) {
  const p = f.propagation;
  return figureFacts([
    ["Revocations on the chain", "propagation.revocations", p.revocations],
    ["Delivered to the brand", "propagation.delivered", p.delivered],
    ["Acknowledged by the brand", "propagation.acknowledged", p.acknowledged],
    ["Share acknowledged", "propagation.share_acknowledged", p.share_acknowledged, share(p.share_acknowledged)],
    ["Median time to acknowledge", "propagation.median_seconds", p.median_seconds, duration(p.median_seconds)],
    ["Worst time to acknowledge", "propagation.worst_seconds", p.worst_seconds, duration(p.worst_seconds)],
  ]);
}

function command(f) {
  const api = `${location.origin}/v1/stewardship/${f.brand}`;
  return [
    "consent-ledger audit export --out access-log.jsonl   # by the custodian",
    `consent-ledger stewardship report --brand ${f.brand} --rpc <JSON-RPC URL of chain ${f.chain.chain_id}> \\`,
    `    --log access-log.jsonl --compare ${api}`,
  ].join("\n");
}

async function brands(selected) {
  const reply = await api("/v1/brands", { auth: false });
  const pick = $("brand-pick");
  for (const b of reply.brands) {
    pick.append(el("option", { value: b.address, selected: b.address.toLowerCase() === selected.toLowerCase() }, `${b.name} (${b.address})`));
  }
  return new Map(reply.brands.map((b) => [b.address.toLowerCase(), b.name]));
}

async function show(brand, names) {
  const path = `/v1/stewardship/${brand}`;
  const f = await api(path, { auth: false });
  const name = names.get(brand.toLowerCase()) || brand;
  $("title").textContent = `Stewardship: ${name}`;
  document.title = `Consent Ledger · stewardship of ${name}`;
  fill($("summary"), ...summary(f));
  const json = $("download-json");
  json.href = path;
  json.download = `stewardship-${brand.toLowerCase()}.json`;
  const csv = $("download-csv");
  csv.href = `${path}/figures.csv`;
  csv.download = `stewardship-${brand.toLowerCase()}.csv`;
  $("compare-link").href = `compare.html?brand=${encodeURIComponent(f.brand)}`;
  $("report-command").textContent = command(f);
  $("figures").hidden = false;
  fill($("grants"), ...grants(f));
  fill($("releases"), ...releases(f));
  fill($("insights"), ...insights(f));
  fill($("propagation"), propagation(f));
  document.body.dataset.loaded = String(f.as_of.block);
}

async function start() {
  const brand = new URLSearchParams(location.search).get("brand") || "";
  try {
    const names = await brands(brand);
    if (!brand) {
      say("Choose a brand to see its figures.");
      return;
    }
    if (!ADDRESS.test(brand)) throw new Error("That is not a brand address: 0x followed by 40 hex digits.");
    await show(brand, names);
  } catch (error) {
    fail(error);
  }
}

start();
