import { describe, expect, it } from "vitest";
import { isOneOfHashes, secretsEqual } from "./safe-compare.js";

describe("secretsEqual", () => {
  it.each([
    ["s3cret", "s3cret", true],
    ["s3cret", "s3cre", false],
    ["s3cre", "s3cret", false],
    ["s3cret", "s3cret ", false],
    ["", "s3cret", false],
    ["", "", true],
    ["S3CRET", "s3cret", false],
    ["é", "é", true],
    // Same length, different content: the common forged-signature case.
    ["a".repeat(64), "b".repeat(64), false],
  ])("%j against %j → %s", (presented, expected, equal) => {
    expect(secretsEqual(presented, expected)).toBe(equal);
  });

  it("compares values of any length without throwing (timingSafeEqual alone throws on unequal lengths)", () => {
    expect(() => secretsEqual("x", "x".repeat(10_000))).not.toThrow();
  });
});

describe("isOneOfHashes", () => {
  it("finds a hash wherever it is in the list, and only an exact one", () => {
    expect(isOneOfHashes("bb", ["aa", "bb", "cc"])).toBe(true);
    expect(isOneOfHashes("cc", ["aa", "bb", "cc"])).toBe(true);
    expect(isOneOfHashes("b", ["aa", "bb", "cc"])).toBe(false);
    expect(isOneOfHashes("bb", [])).toBe(false);
  });
});
