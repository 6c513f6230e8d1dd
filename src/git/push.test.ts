import { describe, expect, it } from "vitest";
import { parseRefUpdates } from "./push.js";

const A = "a".repeat(40);
const B = "b".repeat(40);
const ZERO = "0".repeat(40);

describe("parseRefUpdates", () => {
  it("reads pre-receive's stdin", () => {
    expect(parseRefUpdates(`${ZERO} ${A} refs/heads/main\n${A} ${B} refs/tags/v1\n`)).toEqual([
      { oldSha: ZERO, newSha: A, ref: "refs/heads/main" },
      { oldSha: A, newSha: B, ref: "refs/tags/v1" },
    ]);
    expect(parseRefUpdates("")).toEqual([]);
    expect(parseRefUpdates(`${"c".repeat(64)} ${"d".repeat(64)} refs/heads/sha256\n`)).toHaveLength(
      1,
    );
  });

  it("takes the rest of the line as the ref, whatever it holds", () => {
    expect(parseRefUpdates(`${A} ${B} refs/heads/it's "quoted"\n`)[0]?.ref).toBe(
      `refs/heads/it's "quoted"`,
    );
  });

  it("refuses anything else", () => {
    expect(() => parseRefUpdates(`${A} refs/heads/main\n`)).toThrow(/unexpected pre-receive input/);
    expect(() => parseRefUpdates(`${A} xyz refs/heads/main\n`)).toThrow(
      /unexpected pre-receive input/,
    );
    expect(() => parseRefUpdates(`${A} ${B}\n`)).toThrow(/unexpected pre-receive input/);
  });
});
