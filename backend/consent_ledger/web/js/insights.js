// The brand console's insights: noisy counts and histograms over the brand's consenting customers
// (POST /v1/insights), never a record. Before a question the page explains what its epsilon means (the
// noise scale and the 95% accuracy, computed as the server computes them) and what it costs of the privacy
// budget (GET /v1/insights/budget); after it, it draws each histogram as bars, suppressed cells marked as
// suppressed (grey, dashed, "below N"), never as zero, with the block the answer was decided at and the
// access-log leaf that records the question. The answer's cells are on each chart's data-cells.

import { ApiError, api } from "./api.js";
import { barChart } from "./charts.js";
import { $, badge, busy, el, facts, fill, labelsOf, say, when } from "./ui.js";

const ALPHA = 0.05; // the accuracy shown is the half-width holding the true count with 95% probability
const MAX_HISTOGRAMS = 8;
const MAX_BINS = 50;
const DEFAULT_PURPOSE = "tcf.audience_statistics";
// Bins the page suggests when a category is chosen (the brand names the bins; the server never says which
// values exist). Categories not listed start empty, with an example.
const SUGGESTED_BINS = { "demographic.age_range": "18-24, 25-34, 35-44, 45-54, 55-64, 65+" };
const EXAMPLE_BINS = { interests: "e.g. hiking, cooking, chess", "location.coarse": "e.g. Leeds, York, Hull" };
const FIRST = ["demographic.age_range", "interests"];

const state = { catalog: null, budget: null, rows: 0 };

const fmt = (n) => (Number.isInteger(n) ? String(n) : String(Number(n.toFixed(3))));
const plusMinus = (v) => (v < 1 ? v.toFixed(3) : v.toFixed(1));
const catLabel = (name) => labelsOf([name], state.catalog ? state.catalog.categories : [])[0];

/** OpenDP's discrete_laplacian_scale_to_accuracy (the figure the answer carries as privacy.accuracy_95). */
export function accuracy(scale, alpha = ALPHA) {
  const value = scale * Math.log(2 / (alpha * (Math.exp(1 / scale) + 1))) + 1;
  return Number.isFinite(value) ? Math.max(value, 0) : 0;
}

// ---- the budget ----------------------------------------------------------------------------------

function budgetFacts(b) {
  return [
    el(
      "div",
      { class: "field" },
      el("label", { for: "insight-budget-meter" }, `Privacy budget left this period: ε ${fmt(b.epsilon_remaining)} of ${fmt(b.epsilon_per_period)}`),
      el("meter", { id: "insight-budget-meter", min: 0, max: b.epsilon_per_period, value: b.epsilon_remaining, low: b.epsilon_per_query, optimum: b.epsilon_per_period }),
    ),
    facts([
      ["Per question", `at most ε ${fmt(b.epsilon_per_query)}`],
      ["This period", `ε ${fmt(b.epsilon_spent)} spent, ε ${fmt(b.epsilon_remaining)} left`],
      ["Renews", when(b.period_end)],
      ["Smallest count shown", `${b.min_group_size} (a noisy count below it is suppressed)`],
    ]),
  ];
}

function showBudget(b) {
  state.budget = b;
  const box = $("insight-budget");
  box.dataset.remaining = String(b.epsilon_remaining);
  box.dataset.spent = String(b.epsilon_spent);
  box.dataset.perQuery = String(b.epsilon_per_query);
  box.dataset.perPeriod = String(b.epsilon_per_period);
  fill(box, budgetFacts(b));
  $("insight-epsilon").max = String(b.epsilon_per_query);
  $("insight-epsilon-hint").textContent = `above 0, at most ${fmt(b.epsilon_per_query)} per question`;
  explain();
}

export async function loadInsightBudget() {
  showBudget(await api("/v1/insights/budget"));
}

// ---- the question ----------------------------------------------------------------------------------

function categoryOptions(selected) {
  return state.catalog.categories.map((c) => el("option", { value: c.name, selected: c.name === selected }, c.cpra_sensitive ? `${c.label} (sensitive)` : c.label));
}

function histogramRow(category) {
  state.rows += 1;
  const n = state.rows;
  const bins = el("input", {
    type: "text",
    id: `insight-bins-${n}`,
    name: "insight-bins",
    autocomplete: "off",
    spellcheck: "false",
    value: SUGGESTED_BINS[category] || "",
    placeholder: EXAMPLE_BINS[category] || "bins, separated by commas",
    required: true,
  });
  const select = el("select", { id: `insight-category-${n}`, name: "insight-category" }, categoryOptions(category));
  const per = el("input", { type: "number", id: `insight-contributions-${n}`, name: "insight-contributions", min: 1, max: MAX_BINS, value: category === "interests" ? 2 : 1, required: true });
  select.addEventListener("change", () => {
    const previous = select.dataset.category;
    if (!bins.value.trim() || bins.value === (SUGGESTED_BINS[previous] || "")) bins.value = SUGGESTED_BINS[select.value] || "";
    bins.placeholder = EXAMPLE_BINS[select.value] || "bins, separated by commas";
    select.dataset.category = select.value;
    explain();
  });
  select.dataset.category = category;
  const row = el(
    "div",
    { class: "item histogram", dataset: { row: String(n) } },
    el(
      "div",
      { class: "inline-fields" },
      el("div", { class: "field" }, el("label", { for: select.id }, "Count by"), select),
      el("div", { class: "field" }, el("label", { for: per.id }, "Bins one customer may count in ", el("span", { class: "hint" }, "more for lists such as interests; more noise")), per),
    ),
    el("div", { class: "field" }, el("label", { for: bins.id }, "Bins ", el("span", { class: "hint" }, `separated by commas, up to ${MAX_BINS}; values outside them are not counted`)), bins),
    el("div", { class: "actions" }, el("button", { type: "button", class: "secondary", dataset: { act: "remove" } }, "Remove this histogram")),
  );
  row.querySelector("button[data-act='remove']").setAttribute("aria-label", `Remove the histogram of ${catLabel(category)}`);
  select.addEventListener("change", () => row.querySelector("button[data-act='remove']").setAttribute("aria-label", `Remove the histogram of ${catLabel(select.value)}`));
  return row;
}

function rows() {
  return Array.from($("insight-histograms").querySelectorAll(".histogram"));
}

function splitBins(text) {
  return text.split(",").map((b) => b.trim()).filter(Boolean);
}

/** The histograms as the API wants them, or an Error saying what to fix. */
function askedHistograms() {
  const histograms = rows().map((row) => ({
    category: row.querySelector("select").value,
    bins: splitBins(row.querySelector("input[name='insight-bins']").value),
    contributions: Number(row.querySelector("input[name='insight-contributions']").value),
  }));
  if (!histograms.length) throw new Error("Add at least one histogram: what to count.");
  const seen = new Set();
  for (const h of histograms) {
    const label = catLabel(h.category);
    if (seen.has(h.category)) throw new Error(`${label} is counted twice: one histogram per category.`);
    seen.add(h.category);
    if (!h.bins.length) throw new Error(`Name the bins to count for ${label}, separated by commas.`);
    if (h.bins.length > MAX_BINS) throw new Error(`${label}: at most ${MAX_BINS} bins.`);
    if (!Number.isInteger(h.contributions) || h.contributions < 1 || h.contributions > h.bins.length) {
      throw new Error(`${label}: a customer may count in 1 to ${h.bins.length} bins (the number of bins named).`);
    }
  }
  return histograms;
}

function sensitivityOf(histograms) {
  return 1 + histograms.reduce((sum, h) => sum + (Number.isInteger(h.contributions) && h.contributions > 0 ? h.contributions : 1), 0);
}

/** What the chosen epsilon means: the noise scale, the 95% accuracy, small groups, and the budget after. */
function explain() {
  const box = $("insight-noise");
  if (!box || !state.catalog) return;
  const epsilon = Number($("insight-epsilon").value);
  const histograms = rows().map((row) => ({ contributions: Number(row.querySelector("input[name='insight-contributions']").value) }));
  if (!(epsilon > 0)) {
    fill(box, el("p", {}, "Enter an epsilon above 0 to see how much noise it adds."));
    delete box.dataset.scale;
    return;
  }
  const sensitivity = sensitivityOf(histograms);
  const scale = sensitivity / epsilon;
  const within = accuracy(scale);
  const b = state.budget;
  const minimum = b ? b.min_group_size : null;
  box.dataset.scale = String(scale);
  box.dataset.accuracy = within.toFixed(3);
  const small = minimum ?? 10;
  const parts = [
    el(
      "p",
      {},
      el("strong", {}, "What epsilon means. "),
      "Every count you get is the true count plus random noise. Epsilon is how much one customer can change what you see: ",
      "smaller means more privacy for your customers and more noise for you.",
    ),
    facts([
      ["Noise scale", el("span", { id: "insight-scale" }, `${fmt(scale)} (= ${sensitivity} / ε ${fmt(epsilon)}: one customer moves the total by 1 and each histogram by its bins per customer)`)],
      ["95% of counts within", el("span", { id: "insight-accuracy" }, `± ${plusMinus(within)} of the true count`)],
    ]),
    el(
      "p",
      { class: within >= small ? "warning" : "small", id: "insight-small-groups", dataset: { warn: String(within >= small) } },
      el("strong", {}, "Small groups. "),
      `The noise is the same whatever the group's size: a group of ${small} may come back anywhere from about ${Math.max(0, Math.round(small - within))} to ${Math.round(small + within)}, `,
      `a group of 10,000 within ±${plusMinus(within)} (${((within / 10_000) * 100).toFixed(2)} %). `,
      minimum !== null ? `A noisy count below ${minimum} is suppressed: you see "suppressed", never a number, and it does not mean zero. ` : "",
      within >= small ? "At this epsilon the noise is as large as the smallest groups: their counts say little. Ask with a larger epsilon, or for fewer, wider bins." : "",
    ),
  ];
  if (b) {
    const after = b.epsilon_remaining - epsilon;
    const cost = el("p", { id: "insight-cost", dataset: { after: String(after) } }, el("strong", {}, "Cost. "), `This question spends ε ${fmt(epsilon)}: ε ${fmt(b.epsilon_remaining)} of this period's budget is left before it, ε ${fmt(Math.max(after, 0))} after. Asking again costs again.`);
    parts.push(cost);
    if (epsilon > b.epsilon_per_query) parts.push(el("p", { class: "warning" }, `Above the limit of ε ${fmt(b.epsilon_per_query)} per question: it would be refused.`));
    else if (after < -1e-9) parts.push(el("p", { class: "warning" }, `Your budget left (ε ${fmt(b.epsilon_remaining)}) cannot pay for it: it would be refused until ${when(b.period_end)}.`));
  }
  fill(box, parts);
}

// ---- the answer ----------------------------------------------------------------------------------

function cellText(cell, minimum) {
  return cell.suppressed ? `suppressed (below ${minimum})` : String(cell.count);
}

function answerView(answer, before) {
  const p = answer.privacy;
  const minimum = p.min_group_size;
  const purpose = labelsOf([answer.purpose], state.catalog.purposes)[0];
  const block = answer.block;
  const total = answer.total;
  const charts = answer.histograms.map((h, i) => {
    const figure = barChart(
      `insight-chart-${i}`,
      `${catLabel(h.category)}: noisy count of customers per bin`,
      "noisy count",
      h.bins.map((cell) => ({ name: cell.bin, value: cell.count, suppressed: cell.suppressed })),
      { suppressedAt: minimum },
    );
    figure.dataset.category = h.category;
    figure.dataset.cells = JSON.stringify(h.bins);
    figure.append(
      el(
        "ul",
        { class: "chips insight-cells", "aria-label": `Counts per bin of ${catLabel(h.category)}` },
        h.bins.map((cell) =>
          el(
            "li",
            { dataset: { bin: cell.bin, count: cell.suppressed ? "" : String(cell.count), suppressed: String(cell.suppressed) } },
            `${cell.bin}: `,
            cell.suppressed ? badge(`suppressed, below ${minimum}`, "warn") : el("strong", {}, String(cell.count)),
          ),
        ),
      ),
    );
    return figure;
  });
  return [
    el("h3", {}, `Answer for "${purpose}"`),
    facts([
      ["Customers counted", el("span", { id: "insight-total", dataset: { count: total.suppressed ? "" : String(total.count), suppressed: String(total.suppressed) } }, total.suppressed ? badge(`suppressed, below ${minimum}`, "warn") : `${total.count} (noisy), whose grant covers every asked category for this purpose`)],
      ["Decided at block", el("span", { id: "insight-block", dataset: { number: String(block.number), hash: block.hash } }, `${block.number} (${when(block.timestamp)})`, " ", el("span", { class: "mono" }, block.hash))],
      ["Access-log leaf", answer.leaf_index === undefined || answer.leaf_index === null ? "" : el("span", { id: "insight-leaf", dataset: { index: String(answer.leaf_index) } }, `#${answer.leaf_index}: the question (brand, categories, purpose, block, epsilon; never a count) is a leaf of the access log, whose roots are anchored on-chain`)],
      ["Question id", el("span", { class: "mono" }, answer.query_id)],
      ["Noise", `discrete Laplace of scale ${fmt(p.noise_scale)}; 95% of counts within ±${plusMinus(p.accuracy_95)}`],
      ["Epsilon spent", `ε ${fmt(p.epsilon_spent)}`],
      ["Budget left", el("span", { id: "insight-after", dataset: { before: before === null ? "" : String(before), after: String(p.epsilon_remaining) } }, before === null ? `ε ${fmt(p.epsilon_remaining)} until ${when(p.period_end)}` : `ε ${fmt(before)} before, ε ${fmt(p.epsilon_remaining)} after (until ${when(p.period_end)})`)],
    ]),
    el("p", { class: "small muted" }, `Grey dashed bars are suppressed cells: their noisy count was below ${minimum}, so it is not shown. They are drawn at ${minimum} meaning "somewhere below", not zero.`),
    ...charts,
  ];
}

function showRefusal(error) {
  const problem = error.problem || {};
  const box = $("insight-refusal");
  box.hidden = false;
  box.dataset.status = String(error.status);
  box.dataset.remaining = problem.epsilon_remaining === undefined ? "" : String(problem.epsilon_remaining);
  fill(
    box,
    el("p", {}, el("strong", {}, `Refused (${error.status}). `), error.message),
    problem.epsilon_remaining === undefined ? null : el("p", {}, `Budget left: ε ${fmt(problem.epsilon_remaining)}${problem.period_end ? `, renewed ${when(problem.period_end)}` : ""}. Nothing was charged.`),
  );
}

async function ask(event) {
  event.preventDefault();
  await busy($("insight-run"), async () => {
    const purpose = $("insight-purpose").value;
    if (!purpose) throw new Error("Choose the purpose of the question.");
    const epsilon = Number($("insight-epsilon").value);
    if (!(epsilon > 0)) throw new Error("Epsilon must be a number above 0.");
    const histograms = askedHistograms();
    const before = state.budget ? state.budget.epsilon_remaining : null;
    $("insight-refusal").hidden = true;
    say("Asking the chain at one block, counting, adding noise…");
    let answer;
    try {
      answer = await api("/v1/insights", { method: "POST", body: { purpose, epsilon, histograms } });
    } catch (error) {
      if (!(error instanceof ApiError) || error.status < 400 || error.status >= 500) throw error;
      showRefusal(error);
      fill($("insight-result")); // an earlier answer stays out of sight: it does not answer this question
      $("insight-result").hidden = true;
      await loadInsightBudget().catch(() => {});
      say(error.message, "error");
      return;
    }
    const result = $("insight-result");
    result.hidden = false;
    result.dataset.queryId = answer.query_id;
    fill(result, answerView(answer, before));
    await loadInsightBudget();
    say(`Answered at block ${answer.block.number}: ε ${fmt(answer.privacy.epsilon_spent)} spent, ε ${fmt(answer.privacy.epsilon_remaining)} left.`, "ok");
  });
}

// ---- wiring ----------------------------------------------------------------------------------

export function renderInsightForm(catalog) {
  state.catalog = catalog;
  const purposes = catalog.purposes.map((p) => el("option", { value: p.name, selected: p.name === DEFAULT_PURPOSE }, p.label));
  fill($("insight-purpose"), el("option", { value: "" }, "Choose a purpose…"), purposes);
  const names = new Set(catalog.categories.map((c) => c.name));
  fill($("insight-histograms"), FIRST.filter((name) => names.has(name)).slice(0, 1).map(histogramRow));
  explain();
}

export function setupInsights() {
  $("insight-form").addEventListener("submit", ask);
  $("insight-form").addEventListener("input", explain);
  $("insight-add").addEventListener("click", () => {
    if (!state.catalog) return;
    if (rows().length >= MAX_HISTOGRAMS) {
      say(`At most ${MAX_HISTOGRAMS} histograms in one question.`, "error");
      return;
    }
    const used = new Set(rows().map((row) => row.querySelector("select").value));
    const next = [...FIRST, ...state.catalog.categories.map((c) => c.name)].find((name) => !used.has(name));
    const row = histogramRow(next);
    $("insight-histograms").append(row);
    row.querySelector("select").focus();
    explain();
  });
  $("insight-histograms").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-act='remove']");
    if (!button) return;
    button.closest(".histogram").remove();
    $("insight-add").focus();
    explain();
  });
}

export function forgetInsights() {
  state.budget = null;
  fill($("insight-budget"));
  fill($("insight-result"));
  $("insight-result").hidden = true;
  $("insight-refusal").hidden = true;
}
