// Building the DOM from data. Text always goes in as text nodes (the same as
// textContent), never as HTML, so nothing from the API can become markup.

import { localTime, timeAgo, tone } from "./format.js";

/**
 * `el("a", { href, class: "x", onclick }, "text", child)`. Attributes with
 * undefined, null or false values are left out; `on*` become listeners.
 */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

/** Appends strings (as text), numbers and nodes; skips undefined, null and false. */
export function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A coloured status label; `family` overrides the colour the status has by default. */
export function badge(status, text = status, family = tone(status)) {
  return el("span", { class: `badge tone-${family}` }, text);
}

/** "3 min ago", with the exact local time as its tooltip. */
export function ago(iso) {
  return el("time", { datetime: iso, title: localTime(iso) }, timeAgo(iso));
}

/** A link to an address the API gave, only for http(s) ones. */
export function externalLink(url, text = url) {
  if (!/^https?:\/\//i.test(url ?? "")) return text ?? "";
  return el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, text);
}

/** A table with a header row; each row is an array of cells or `{ cells, attributes }`. */
export function table(headers, rows, { empty = "Nothing yet.", label } = {}) {
  if (rows.length === 0) return el("p", { class: "muted empty" }, empty);
  return el(
    "table",
    { "aria-label": label },
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        headers.map((h) => el("th", { scope: "col" }, h)),
      ),
    ),
    el(
      "tbody",
      {},
      rows.map((row) => {
        const { cells, attributes } = Array.isArray(row) ? { cells: row, attributes: {} } : row;
        return el(
          "tr",
          attributes,
          cells.map((cell) => el("td", {}, cell)),
        );
      }),
    ),
  );
}

/** A notice of what went wrong and what to do next. */
export function notice(message, hint, kind = "bad") {
  return el(
    "div",
    { class: `notice tone-${kind}`, role: kind === "bad" ? "alert" : "status" },
    el("p", {}, message),
    hint ? el("p", { class: "hint" }, hint) : undefined,
  );
}
