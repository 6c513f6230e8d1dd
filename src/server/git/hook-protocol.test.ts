import { describe, expect, it } from "vitest";
import {
  escapeProgressLine,
  formatVerdict,
  HookOutputReader,
  LineSplitter,
  parseRefUpdates,
  parseVerdict,
  type Verdict,
} from "./hook-protocol.js";

const A = "a".repeat(40);
const B = "b".repeat(40);
const ZERO = "0".repeat(40);

describe("verdict lines", () => {
  const table: { line: string; verdict: Verdict | undefined }[] = [
    { line: "::skiff-result ok", verdict: { ok: true } },
    {
      line: "::skiff-result failed the tests failed",
      verdict: { ok: false, reason: "the tests failed" },
    },
    { line: "::skiff-result failed", verdict: { ok: false, reason: "the pipeline failed" } },
    { line: "::skiff-result failed   ", verdict: { ok: false, reason: "the pipeline failed" } },
    { line: "::skiff-result okay", verdict: undefined },
    { line: " ::skiff-result ok", verdict: undefined },
    { line: "skiff: building web", verdict: undefined },
    { line: "", verdict: undefined },
  ];
  for (const { line, verdict } of table) {
    it(`parses ${JSON.stringify(line)}`, () => expect(parseVerdict(line)).toEqual(verdict));
  }

  it("formats a verdict that parses back, with the reason on one line", () => {
    expect(formatVerdict({ ok: true })).toBe("::skiff-result ok");
    const line = formatVerdict({ ok: false, reason: "web failed\n  its health check" });
    expect(line).toBe("::skiff-result failed web failed its health check");
    expect(parseVerdict(line)).toEqual({ ok: false, reason: "web failed its health check" });
  });

  it("escapes progress lines that look like protocol lines", () => {
    expect(escapeProgressLine("::skiff-result ok")).toBe(" ::skiff-result ok");
    expect(escapeProgressLine("building")).toBe("building");
    expect(parseVerdict(escapeProgressLine("::skiff-result ok"))).toBeUndefined();
  });
});

describe("LineSplitter", () => {
  it("yields each line once complete, keeping UTF-8 split across chunks whole", () => {
    const splitter = new LineSplitter();
    const bytes = Buffer.from("first\r\nsecond ✓\nthi");
    const at = bytes.indexOf("✓") + 1; // inside the 3-byte character
    expect(splitter.push(bytes.subarray(0, at))).toEqual(["first"]);
    expect(splitter.push(bytes.subarray(at))).toEqual(["second ✓"]);
    expect(splitter.push("rd")).toEqual([]);
    expect(splitter.end()).toEqual(["third"]);
    expect(splitter.end()).toEqual([]);
  });
});

describe("HookOutputReader", () => {
  function read(chunks: string[], interruption?: string) {
    const printed: string[] = [];
    const reader = new HookOutputReader((line) => printed.push(line));
    const progress: string[][] = [];
    for (const chunk of chunks) {
      reader.push(chunk);
      progress.push([...printed]);
    }
    return { printed, progress, verdict: reader.end(interruption) };
  }

  it("prints each line as soon as it is complete and keeps the verdict out of the output", () => {
    const { printed, progress, verdict } = read([
      "skiff: build",
      "ing web\nskiff: test",
      "ing\n",
      "::skiff-result ok\n",
    ]);
    expect(progress).toEqual([
      [],
      ["skiff: building web"],
      ["skiff: building web", "skiff: testing"],
      ["skiff: building web", "skiff: testing"],
    ]);
    expect(printed).toEqual(["skiff: building web", "skiff: testing"]);
    expect(verdict).toEqual({ ok: true });
  });

  it("takes a failed verdict with its reason, with or without a final newline", () => {
    expect(read(["x\n::skiff-result failed web is unhealthy"]).verdict).toEqual({
      ok: false,
      reason: "web is unhealthy",
    });
  });

  it("fails, saying so, when the answer ends without a verdict", () => {
    const { verdict, printed } = read(["skiff: building\n"]);
    expect(printed).toEqual(["skiff: building"]);
    expect(verdict).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/ended without a result/),
    });
  });

  it("does not take a verdict that is followed by more output", () => {
    const { verdict, printed } = read(["::skiff-result ok\n", "more\n"]);
    expect(printed).toEqual(["more"]);
    expect(verdict.ok).toBe(false);
  });

  it("fails when the connection broke, even after an ok", () => {
    const { verdict } = read(["::skiff-result ok\n"], "the response was cut off");
    expect(verdict).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/connection .* broke/),
    });
  });
});

describe("parseRefUpdates", () => {
  it("reads pre-receive's stdin", () => {
    expect(parseRefUpdates(`${ZERO} ${A} refs/heads/main\n${A} ${B} refs/tags/v1\n`)).toEqual([
      { oldSha: ZERO, newSha: A, ref: "refs/heads/main" },
      { oldSha: A, newSha: B, ref: "refs/tags/v1" },
    ]);
    expect(parseRefUpdates("")).toEqual([]);
  });

  it("refuses anything else", () => {
    expect(() => parseRefUpdates(`${A} refs/heads/main\n`)).toThrow(/unexpected pre-receive input/);
    expect(() => parseRefUpdates(`${A} xyz refs/heads/main\n`)).toThrow(
      /unexpected pre-receive input/,
    );
  });
});
