import { describe, expect, it } from "vitest";
import { parseBatchOutput } from "./export-commit.js";

describe("parseBatchOutput", () => {
  it("splits cat-file --batch answers, binary content included", () => {
    const content = Buffer.from([0x0a, 0x00, 0x0a]);
    const output = Buffer.concat([
      Buffer.from(`${"c".repeat(40)} commit 3\nabc\n`),
      Buffer.from(`${"d".repeat(40)} blob 3\n`),
      content,
      Buffer.from("\nHEAD:nope.txt missing\n"),
    ]);
    expect(parseBatchOutput(output)).toEqual([
      { type: "commit", content: Buffer.from("abc") },
      { type: "blob", content },
      undefined,
    ]);
  });
});
