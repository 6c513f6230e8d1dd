import { describe, expect, it } from "vitest";
import { configLines, parseAssignments, shownValue } from "./config.js";

describe("parseAssignments", () => {
  it("splits at the first = and keeps the rest byte for byte", () => {
    expect(parseAssignments(["A=b=c", "EMPTY=", "M=line1\nline2 $x 'q'"])).toEqual({
      A: "b=c",
      EMPTY: "",
      M: "line1\nline2 $x 'q'",
    });
  });

  it.each([
    [["NOVALUE"], "has no value"],
    [["bad-key=1"], "not a valid config key"],
    [["A=1", "A=2"], "given twice"],
  ])("%j is a usage error (%s)", (args, message) => {
    expect(() => parseAssignments(args)).toThrow(message);
  });
});

describe("skiff config's lines", () => {
  it("shows plain values as they are and others quoted, app-wide first, then each service", () => {
    expect(shownValue("postgres://db:5432/x")).toBe("postgres://db:5432/x");
    expect(shownValue("two\nlines")).toBe('"two\\nlines"');
    expect(shownValue(" padded")).toBe('" padded"');
    expect(shownValue("")).toBe('""');
    expect(
      configLines({
        app: { LONG_NAME: "1", A: "x y" },
        services: { db: { ROOT: "pw", TOKEN: null }, empty: {} },
        secret: ["db/TOKEN"],
      }),
    ).toEqual([
      "A          x y",
      "LONG_NAME  1",
      "",
      "service db:",
      "  ROOT   pw",
      "  TOKEN  [secret]",
    ]);
    expect(configLines({ app: { PW: "s3cret" }, services: {}, secret: ["PW"] })).toEqual([
      "PW  s3cret  (secret)",
    ]);
  });
});
