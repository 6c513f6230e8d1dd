import { describe, expect, it } from "vitest";
import { parseDotEnv } from "./dotenv.js";

describe("parseDotEnv", () => {
  it("reads assignments, comments, export, quotes and escapes", () => {
    const text = [
      "# a comment",
      "",
      "PLAIN=value",
      "SPACED =  padded value   ",
      "export EXPORTED=yes",
      "INLINE=value # a comment",
      "HASH=a#b",
      "SINGLE='literal $HOME \\n # kept'",
      'DOUBLE="line1\\nline2 \\"quoted\\" \\\\ done"',
      "EMPTY=",
      "EQUALS=a=b=c",
      "not an assignment",
      "1BAD=skipped",
      "DOTTED.NAME=ok",
    ].join("\n");
    expect(parseDotEnv(text)).toEqual({
      PLAIN: "value",
      SPACED: "padded value",
      EXPORTED: "yes",
      INLINE: "value",
      HASH: "a#b",
      SINGLE: "literal $HOME \\n # kept",
      DOUBLE: 'line1\nline2 "quoted" \\ done',
      EMPTY: "",
      EQUALS: "a=b=c",
      "DOTTED.NAME": "ok",
    });
  });

  it("reads quoted values across lines, and CRLF files", () => {
    const text = "CERT=\"-----BEGIN-----\r\nabc\r\n-----END-----\"\r\nNEXT=1\r\nQ='a\nb' # c\r\n";
    expect(parseDotEnv(text)).toEqual({
      CERT: "-----BEGIN-----\nabc\n-----END-----",
      NEXT: "1",
      Q: "a\nb",
    });
  });

  it("later assignments win, and an unclosed quote keeps the line as written", () => {
    expect(parseDotEnv('A=1\nA=2\nB="open\nC=3')).toEqual({ A: "2", B: '"open', C: "3" });
  });

  it("returns nothing for an empty file", () => {
    expect(parseDotEnv("")).toEqual({});
  });
});
