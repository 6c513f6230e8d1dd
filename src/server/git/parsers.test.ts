import { describe, expect, it } from "vitest";
import { parseBatchOutput } from "./export-commit.js";
import { basicCredentials } from "./http-backend.js";
import { parsePushRequest } from "./pre-receive-hook.js";
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

describe("basicCredentials", () => {
  const encode = (text: string) => `Basic ${Buffer.from(text).toString("base64")}`;
  it("reads any user and the password, which may hold colons", () => {
    expect(basicCredentials(encode("me:skiff_abc"))).toEqual({ user: "me", password: "skiff_abc" });
    expect(basicCredentials(encode(":tok:en"))).toEqual({ user: "", password: "tok:en" });
  });
  it("refuses other schemes and malformed values", () => {
    expect(basicCredentials(undefined)).toBeUndefined();
    expect(basicCredentials("Bearer skiff_abc")).toBeUndefined();
    expect(basicCredentials(encode("no-colon"))).toBeUndefined();
  });
});

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

describe("parsePushRequest", () => {
  const A = "a".repeat(40);
  const good = {
    app: "shop",
    gitDir: "/srv/repos/shop.git",
    updates: [{ oldSha: "0".repeat(40), newSha: A, ref: "refs/heads/main" }],
    quarantine: { GIT_QUARANTINE_PATH: "/srv/repos/shop.git/objects/tmp_objdir-incoming-x" },
  };
  it("accepts what the hook client sends", () => {
    expect(parsePushRequest(good)).toEqual(good);
  });
  it("names the first problem", () => {
    expect(parsePushRequest({ ...good, app: "../x" })).toBe("app must be an app name");
    expect(parsePushRequest({ ...good, gitDir: "shop.git" })).toBe(
      "gitDir must be an absolute path",
    );
    expect(parsePushRequest({ ...good, updates: [{ ...good.updates[0], newSha: "HEAD" }] })).toBe(
      "newSha must be an object id",
    );
    expect(parsePushRequest({ ...good, quarantine: { GIT_QUARANTINE_PATH: 1 } })).toBe(
      "quarantine.GIT_QUARANTINE_PATH must be a string",
    );
    expect(parsePushRequest("x")).toBe("the body must be a JSON object");
  });
});

describe("preReceiveHookScript", () => {
  it("execs the client named by the environment and refuses a push without it", () => {
    const script = preReceiveHookScript("shop");
    expect(script.startsWith("#!/bin/sh\n")).toBe(true);
    expect(script).toContain('exec "$SKIFF_NODE" "$SKIFF_HOOK_CLIENT"');
    expect(script).toContain("/git/shop.git");
    expect(script).not.toMatch(/127\.0\.0\.1|Bearer/);
  });
  it("refuses a name that is not an app name", () => {
    expect(() => preReceiveHookScript('x"; rm -rf / #')).toThrow(/app name/);
  });
});
