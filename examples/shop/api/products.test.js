import assert from "node:assert/strict";
import { test } from "node:test";
import { products } from "./products.js";

test("every product has a name and a positive price", () => {
  for (const product of products) {
    assert.ok(product.name.length > 0);
    assert.ok(product.price > 0);
  }
});
