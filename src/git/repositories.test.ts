import { describe, expect, it } from "vitest";
import { HOOK_ENV, PUSH_FIELDS, VERDICT } from "./hook-protocol.js";
import { appFromRepoSegment, preReceiveHookScript } from "./repositories.js";

describe("appFromRepoSegment", () => {
  const table: [string, string | undefined][] = [
    ["shop.git", "shop"],
    ["shop-api-2.git", "shop-api-2"],
    ["shop", undefined],
    ["Shop.git", undefined],
    ["../shop.git", undefined],
    ["..", undefined],
    [".git", undefined],
    ["-shop.git", undefined],
    ["shop.git.git", undefined],
    ["shop/.git", undefined],
    ["bases.git", undefined], // reserved by Skiff
    [`${"a".repeat(64)}.git`, undefined],
  ];
  for (const [segment, app] of table) {
    it(`${JSON.stringify(segment)} → ${JSON.stringify(app)}`, () => {
      expect(appFromRepoSegment(segment)).toBe(app);
    });
  }
});

describe("preReceiveHookScript", () => {
  const script = preReceiveHookScript();

  it("is a POSIX sh script that reads the server's address, token and app from the environment", () => {
    expect(script.startsWith("#!/bin/sh\n")).toBe(true);
    for (const name of Object.values(HOOK_ENV)) expect(script).toContain(`$${name}`);
    expect(script).not.toMatch(/127\.0\.0\.1|:7070\/internal/);
    expect(script).not.toMatch(/\bnode\b|\beval\b/);
  });

  it("speaks the protocol's field names and verdict lines", () => {
    for (const field of Object.values(PUSH_FIELDS)) {
      expect(script).toMatch(new RegExp(`--data-urlencode "${field}[=@]`));
    }
    expect(script).toContain(`'${VERDICT} ok')`);
    expect(script).toContain(`'${VERDICT} failed' | '${VERDICT} failed '*)`);
  });

  it("gives curl the token only in its config, never as an argument", () => {
    // Checked for its characters, then expanded in one place: the heredoc
    // curl reads as --config /dev/fd/3.
    const uses = script.split("\n").filter((line) => /\$\{?token\b/.test(line));
    expect(uses).toEqual(["case $token in", 'header = "Authorization: Bearer $token"']);
    expect(script).toContain("--config /dev/fd/3");
    expect(script).toContain("unset SKIFF_HOOK_TOKEN");
  });
});
