// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests hold Compose interpolation syntax, written literally
import { describe, expect, it } from "vitest";
import { interpolate } from "./interpolate.js";

const env = { HOST: "db", EMPTY: "", PORT: "5432" };

describe("interpolate", () => {
  it.each([
    ["no variables", "plain", "plain"],
    ["$VAR", "$HOST", "db"],
    ["${VAR}", "${HOST}", "db"],
    ["$VAR ends at a non-name character", "$HOST.local", "db.local"],
    ["${VAR:-default} when unset", "${NOPE:-d}", "d"],
    ["${VAR:-default} when empty", "${EMPTY:-d}", "d"],
    ["${VAR:-default} when set", "${HOST:-d}", "db"],
    ["${VAR-default} when unset", "${NOPE-d}", "d"],
    ["${VAR-default} when empty", "${EMPTY-d}", ""],
    ["${VAR:+alt} when set", "${HOST:+alt}", "alt"],
    ["${VAR:+alt} when empty", "${EMPTY:+alt}", ""],
    ["${VAR+alt} when empty", "${EMPTY+alt}", "alt"],
    ["${VAR+alt} when unset", "${NOPE+alt}", ""],
    ["${VAR:?err} when set", "${HOST:?err}", "db"],
    ["${VAR?err} when empty", "${EMPTY?err}", ""],
    ["$$ is a literal $", "$$HOST costs $$5", "$HOST costs $5"],
    ["nested default", "${NOPE:-${HOST}:${PORT}}", "db:5432"],
    ["default with spaces and punctuation", "${NOPE:-a b, c!}", "a b, c!"],
    ["several in one string", "postgres://$HOST:${PORT}/app", "postgres://db:5432/app"],
  ])("%s", (_, text, value) => {
    expect(interpolate(text, env)).toEqual({ ok: true, value, unset: [] });
  });

  it("an unset variable without default becomes empty and is reported", () => {
    expect(interpolate("a${NOPE}b$ALSO", env)).toEqual({
      ok: true,
      value: "ab",
      unset: ["NOPE", "ALSO"],
    });
  });

  it("an unused default is not evaluated, so it does not warn", () => {
    expect(interpolate("${HOST:-$NOPE}", env)).toEqual({ ok: true, value: "db", unset: [] });
    expect(interpolate("${NOPE:-$ALSO}", env)).toEqual({ ok: true, value: "", unset: ["ALSO"] });
  });

  it.each([
    [
      "${NOPE:?give a value}",
      "required variable NOPE is not set: give a value; set it in the app's config or .env",
    ],
    ["${EMPTY:?}", "required variable EMPTY is empty; set it in the app's config or .env"],
    ["${NOPE?}", "required variable NOPE is not set; set it in the app's config or .env"],
    [
      "x ${NOPE",
      'unterminated `${` in "x ${NOPE": close it with `}`, or write `$$` for a literal `$`',
    ],
    [
      "${NOPE:-abc",
      'unterminated `${` in "${NOPE:-abc": close it with `}`, or write `$$` for a literal `$`',
    ],
    ["${", 'unterminated `${` in "${": close it with `}`, or write `$$` for a literal `$`'],
    [
      "${}",
      'invalid interpolation "${}": expected a variable name after `${`; write `$$` for a literal `$`',
    ],
    [
      "${A B}",
      'invalid interpolation "${A B}": after the variable name use `}`, `:-`, `-`, `:?`, `?`, `:+` or `+`',
    ],
    [
      "$5",
      'invalid interpolation at "$5": `$` must be followed by a variable name or `{`; write `$$` for a literal `$`',
    ],
    [
      "end $",
      'invalid interpolation at "$": `$` must be followed by a variable name or `{`; write `$$` for a literal `$`',
    ],
  ])("%s is an error", (text, error) => {
    expect(interpolate(text, env)).toEqual({ ok: false, error });
  });

  it("a malformed default is an error even when the default is not used", () => {
    expect(interpolate("${HOST:-${}}", env)).toEqual({
      ok: false,
      error:
        'invalid interpolation "${}": expected a variable name after `${`; write `$$` for a literal `$`',
    });
  });
});
