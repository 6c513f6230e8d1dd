import assert from "node:assert/strict";
import { test } from "node:test";
import { renderPage } from "./page.js";

test("renders the greeting and escapes product names", () => {
  const html = renderPage("Hi", [{ name: "<b>Oar</b>", price: 45 }]);
  assert.match(html, /<h1>Hi<\/h1>/);
  assert.match(html, /&#60;b&#62;Oar/);
});
