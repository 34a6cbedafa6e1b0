// Charts drawn with uPlot (npm `uplot`, served by our API from its npm install: nothing from the internet).
// Each chart is a figure whose canvas is described for screen readers, and whose numbers are also given
// as a table in a <details> right below it, so no figure exists only as pixels.

import uPlot from "../vendor/uplot/uPlot.esm.js";
import { el } from "./ui.js";

const COLORS = ["#1f5fbf", "#b3261e", "#8a5300", "#1b7a3a", "#6a3ea1", "#00707a"];
const HEIGHT = 240;
const charts = new Set();

function widthOf(node) {
  return Math.max(240, Math.floor(node.getBoundingClientRect().width || 320));
}

let resizeQueued = false;
window.addEventListener("resize", () => {
  if (resizeQueued) return;
  resizeQueued = true;
  requestAnimationFrame(() => {
    resizeQueued = false;
    for (const { plot, box } of charts) plot.setSize({ width: widthOf(box), height: HEIGHT });
  });
});

function table(caption, head, rows) {
  return el(
    "details",
    { class: "chart-numbers" },
    el("summary", {}, `The numbers: ${caption}`),
    el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        {},
        el("caption", { class: "visually-hidden" }, caption),
        el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, rows.map((row) => el("tr", {}, row.map((cell) => el("td", {}, String(cell)))))),
      ),
    ),
  );
}

function frame(id, title, summary) {
  const box = el("div", { class: "chart-canvas", role: "img", "aria-label": `${title}. ${summary}` });
  const figure = el("figure", { class: "chart", id, dataset: { chart: id } }, el("figcaption", {}, title), box);
  return { figure, box };
}

function mount(figure, box, opts, data) {
  // uPlot needs the box in the document to measure it: draw once the figure is attached.
  requestAnimationFrame(() => {
    const plot = new uPlot({ ...opts, width: widthOf(box), height: HEIGHT }, data, box);
    charts.add({ plot, box });
    figure.dataset.drawn = "true";
  });
}

const DAY = 86_400;
// Steps between date ticks, in days: uPlot picks the smallest that leaves room for each label.
const DAY_STEPS = [1, 2, 3, 7, 14, 28, 56, 91, 182, 364].map((days) => days * DAY);
const dateLabel = (seconds) => new Date(seconds * 1000).toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });

/** A time axis for daily figures: ticks only at UTC midnights (never "12pm"), labelled by date; the labels drawn
 * are also written to the figure's data-x-ticks. */
function dayAxis() {
  return {
    space: 56,
    incrs: DAY_STEPS,
    splits: (_u, _axis, min, max, step) => {
      const ticks = [];
      for (let t = Math.ceil(min / DAY) * DAY; t <= max; t += step) ticks.push(t);
      return ticks;
    },
    values: (u, splits) => {
      const labels = splits.map(dateLabel);
      const figure = u.root.closest("figure");
      if (figure) figure.dataset.xTicks = labels.join("|"); // what the axis shows, for tests and tools
      return labels;
    },
  };
}

/** The y range from 0 to a little above `max` (or to `yMax` when charts side by side must share an axis). */
const yRange = (yMax) => (_u, _min, max) => [0, Math.max(1, Math.ceil((yMax ?? max) * 1.15))];

/** Daily series: `days` are YYYY-MM-DD (UTC), `series` [{label, values, color?}]; `yMax` fixes the y axis. */
export function timeChart(id, title, days, series, { yMax } = {}) {
  const total = series.map((s) => `${s.label}: ${s.values.reduce((a, b) => a + b, 0)}`).join(", ");
  const { figure, box } = frame(id, title, `Per day from ${days[0] || "-"} to ${days.at(-1) || "-"}. Totals: ${total}.`);
  const xs = days.map((day) => Date.parse(`${day}T00:00:00Z`) / 1000);
  const opts = {
    scales: {
      // A single day would be a range of zero width: show half a day either side.
      x: { time: true, range: (_u, min, max) => (min === max ? [min - DAY / 2, max + DAY / 2] : [min, max]) },
      y: { range: yRange(yMax) },
    },
    axes: [dayAxis(), { size: 40 }],
    series: [
      { label: "day", value: (_u, v) => (v === null ? "-" : new Date(v * 1000).toISOString().slice(0, 10)) },
      ...series.map((s, i) => ({
        label: s.label,
        stroke: s.color || COLORS[i % COLORS.length],
        width: 2,
        points: { show: days.length < 60 },
      })),
    ],
    cursor: { drag: { x: false, y: false } },
  };
  mount(figure, box, opts, [xs, ...series.map((s) => s.values)]);
  figure.append(table(title, ["Day", ...series.map((s) => s.label)], days.map((day, i) => [day, ...series.map((s) => s.values[i])])));
  return figure;
}

/** Bars by name: `rows` [{name, value, suppressed?}], largest first. Options: `yMax` fixes the y axis (charts
 * side by side), `color` the bars' colour, `suppressedAt` draws each suppressed row (value null) as a grey bar of
 * that height, meaning "somewhere below it", so a hidden cell is marked rather than left looking like zero. */
export function barChart(id, title, valueLabel, rows, { yMax, color, suppressedAt } = {}) {
  const shownValue = (r) => (r.suppressed ? `suppressed (below ${suppressedAt})` : r.value);
  const summary = rows.length ? rows.map((r) => `${r.name}: ${shownValue(r)}`).join(", ") : "nothing yet";
  const { figure, box } = frame(id, title, `${valueLabel}. ${summary}.`);
  const names = rows.map((r) => r.name);
  const xs = rows.map((_r, i) => i);
  const hue = color || COLORS[0];
  const marked = suppressedAt !== undefined && rows.some((r) => r.suppressed);
  const top = Math.max(yMax ?? 0, ...rows.map((r) => r.value ?? 0), marked ? suppressedAt : 0);
  const opts = {
    scales: {
      x: { time: false, range: [-0.5, Math.max(rows.length, 1) - 0.5] },
      y: { range: yRange(top) },
    },
    axes: [
      { splits: () => xs, values: (_u, splits) => splits.map((i) => names[i] ?? ""), rotate: rows.length > 3 ? -25 : 0, size: rows.length > 3 ? 90 : 40, gap: 4 },
      { size: 40 },
    ],
    series: [
      { label: "name", value: (_u, i) => names[i] ?? "-" },
      { label: valueLabel, fill: `${hue}cc`, stroke: hue, paths: uPlot.paths.bars({ size: [0.6, 64] }), points: { show: false } },
      ...(marked
        ? [{ label: `suppressed (below ${suppressedAt})`, fill: "#9aa0a6aa", stroke: "#5f6368", dash: [4, 3], paths: uPlot.paths.bars({ size: [0.6, 64] }), points: { show: false } }]
        : []),
    ],
    legend: { show: marked },
    cursor: { drag: { x: false, y: false } },
  };
  const data = [xs, rows.map((r) => (r.suppressed ? null : r.value))];
  if (marked) data.push(rows.map((r) => (r.suppressed ? suppressedAt : null)));
  mount(figure, box, opts, data);
  figure.append(table(title, ["Name", valueLabel], rows.map((r) => [r.name, shownValue(r)])));
  return figure;
}
