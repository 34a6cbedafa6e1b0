// A secret the server shows once (a webhook signing secret, an API key): shown in its box with a copy
// button until the next one replaces it or the brand signs out. Never stored by the page.

import { $, say } from "./ui.js";

/** Show `value` in the box `prefix`-secret (value element `prefix`-secret-value, caption `prefix`-secret-what). */
export function showOnce(prefix, what, value) {
  $(`${prefix}-secret-what`).textContent = what;
  $(`${prefix}-secret-value`).textContent = value;
  $(`${prefix}-secret`).hidden = false;
  $(`${prefix}-secret-copy`).focus();
}

export function hideOnce(prefix) {
  $(`${prefix}-secret-value`).textContent = "";
  $(`${prefix}-secret`).hidden = true;
}

/** Copy the shown secret; where the clipboard is not available, select it for Ctrl+C. */
export async function copyOnce(prefix) {
  const node = $(`${prefix}-secret-value`);
  try {
    await navigator.clipboard.writeText(node.textContent);
    say("Copied to the clipboard. Store it now: it is not shown again.", "ok");
  } catch {
    const range = document.createRange();
    range.selectNodeContents(node);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    say("Selected: press Ctrl+C (or ⌘C) to copy it. It is not shown again.", "info");
  }
}

export function wireOnce(prefix) {
  $(`${prefix}-secret-copy`).addEventListener("click", () => copyOnce(prefix));
  $(`${prefix}-secret-done`).addEventListener("click", () => hideOnce(prefix));
}
