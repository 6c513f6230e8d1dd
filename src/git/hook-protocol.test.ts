import { describe, expect, it } from "vitest";
import { escapeProgressLine, formatVerdict, parsePushForm } from "./hook-protocol.js";

const A = "a".repeat(40);
const ZERO = "0".repeat(40);

describe("verdict lines", () => {
  it("formats a verdict with the reason on one line", () => {
    expect(formatVerdict({ ok: true })).toBe("::skiff-result ok");
    expect(formatVerdict({ ok: false, reason: "web failed\n  its health check" })).toBe(
      "::skiff-result failed web failed its health check",
    );
    expect(formatVerdict({ ok: false, reason: " \n " })).toBe(
      "::skiff-result failed the pipeline failed",
    );
  });

  it("escapes progress lines that look like protocol lines", () => {
    expect(escapeProgressLine("::skiff-result ok")).toBe(" ::skiff-result ok");
    expect(escapeProgressLine("::skiff-anything")).toBe(" ::skiff-anything");
    expect(escapeProgressLine("building")).toBe("building");
  });
});

describe("parsePushForm", () => {
  const fields = {
    app: "shop",
    cwd: "/srv/repos/shop.git",
    GIT_DIR: ".",
    GIT_OBJECT_DIRECTORY: "/srv/repos/shop.git/objects/tmp_objdir-incoming-x",
    GIT_ALTERNATE_OBJECT_DIRECTORIES: "/srv/repos/shop.git/objects",
    GIT_QUARANTINE_PATH: "/srv/repos/shop.git/objects/tmp_objdir-incoming-x",
    updates: `${ZERO} ${A} refs/heads/main\n`,
  };
  const form = (overrides: Record<string, string> = {}) =>
    new URLSearchParams({ ...fields, ...overrides });

  it("accepts what the hook sends, with the paths resolved against its working directory", () => {
    expect(parsePushForm(form())).toEqual({
      app: "shop",
      gitDir: "/srv/repos/shop.git",
      updates: [{ oldSha: ZERO, newSha: A, ref: "refs/heads/main" }],
      quarantine: {
        GIT_OBJECT_DIRECTORY: "/srv/repos/shop.git/objects/tmp_objdir-incoming-x",
        GIT_ALTERNATE_OBJECT_DIRECTORIES: "/srv/repos/shop.git/objects",
        GIT_QUARANTINE_PATH: "/srv/repos/shop.git/objects/tmp_objdir-incoming-x",
      },
    });
  });

  it("leaves out the variables git did not set, and takes GIT_DIR as . when empty", () => {
    const push = parsePushForm(
      form({
        GIT_DIR: "",
        GIT_OBJECT_DIRECTORY: "",
        GIT_ALTERNATE_OBJECT_DIRECTORIES: "",
        GIT_QUARANTINE_PATH: "objects/incoming",
      }),
    );
    expect(push).toMatchObject({
      gitDir: "/srv/repos/shop.git",
      quarantine: { GIT_QUARANTINE_PATH: "/srv/repos/shop.git/objects/incoming" },
    });
    expect(typeof push === "object" && Object.keys(push.quarantine)).toEqual([
      "GIT_QUARANTINE_PATH",
    ]);
  });

  it("keeps paths and ref names with spaces, quotes and shell characters as they are", () => {
    const cwd = `/srv/my repos/it's "odd" $(x)/shop.git`;
    const ref = "refs/heads/a'b\"c$(>x)`y`;&|";
    const push = parsePushForm(form({ cwd, updates: `${ZERO} ${A} ${ref}\n` }));
    expect(push).toMatchObject({ gitDir: cwd, updates: [{ ref }] });
  });

  const problems: [string, Record<string, string>, string][] = [
    ["an app that is not an app name", { app: "../x" }, "app must be an app name"],
    ["a relative working directory", { cwd: "shop.git" }, "cwd must be an absolute path"],
    ["no ref updates", { updates: "" }, "updates must list at least one ref update"],
    [
      "an update line that is not <old> <new> <ref>",
      { updates: `${A} HEAD refs/heads/main\n` },
      `unexpected pre-receive input line "${A} HEAD refs/heads/main"`,
    ],
    ["a ref outside refs/", { updates: `${ZERO} ${A} HEAD\n` }, '"HEAD" is not a ref name'],
    [
      "a ref with a space",
      { updates: `${ZERO} ${A} refs/heads/a b\n` },
      '"refs/heads/a b" is not a ref name',
    ],
  ];
  for (const [name, overrides, problem] of problems) {
    it(`names the problem with ${name}`, () =>
      expect(parsePushForm(form(overrides))).toBe(problem));
  }
});
