// Small DOM helpers shared by every page. Text is always set with textContent, never as HTML.

export const $ = (id) => document.getElementById(id);

/** el("p", {class: "muted"}, "text", child, ...): an element with attributes and children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replace the children of `node` (or clear it). */
export function fill(node, ...children) {
  node.replaceChildren();
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

/** A definition list from [label, value] pairs; values may be nodes. Empty values are skipped. */
export function facts(pairs) {
  const list = el("dl", { class: "facts" });
  for (const [label, value] of pairs) {
    if (value === null || value === undefined || value === "") continue;
    list.append(el("dt", {}, label), el("dd", {}, value));
  }
  return list;
}

/** Announce a message in the page's aria-live status region. kind: "info" | "ok" | "error". */
export function say(text, kind = "info") {
  const region = $("status");
  if (!region) return;
  region.classList.toggle("is-error", kind === "error");
  region.classList.toggle("is-ok", kind === "ok");
  region.textContent = text;
}

export function fail(error) {
  say(error && error.message ? error.message : String(error), "error");
}

/** Run `task` while `button` is disabled; any error is shown in the status region. Returns the result. */
export async function busy(button, task) {
  const wasDisabled = button ? button.disabled : false;
  if (button) {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
  }
  try {
    return await task();
  } catch (error) {
    fail(error);
    return undefined;
  } finally {
    if (button) {
      button.disabled = wasDisabled;
      button.removeAttribute("aria-busy");
    }
  }
}

export function short(address) {
  return address ? `${address.slice(0, 6)}…${address.slice(-4)}` : "";
}

/** A date for people: from unix seconds (number) or an ISO string. */
export function when(value) {
  if (value === null || value === undefined || value === "") return "";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function badge(text, kind = "") {
  return el("span", { class: `badge ${kind}`.trim() }, text);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Labels for catalog names, with the raw name kept for anyone who needs it. */
export function labelsOf(names, entries) {
  const byName = new Map(entries.map((entry) => [entry.name, entry]));
  return names.map((name) => (byName.get(name) ? byName.get(name).label : name));
}
