import { describe, expect, it } from "vitest";
import { NO_SECRETS, SecretScrubber } from "./scrubber.js";

describe("SecretScrubber", () => {
  const value = "p@ss w/rd+=?&ü";
  const scrubber = new SecretScrubber([{ name: "DB_PASSWORD", value }]);

  it.each([
    ["exact", `connecting with ${value} now`],
    ["base64", `Authorization: Basic ${Buffer.from(value).toString("base64")}`],
    ["base64url", `token=${Buffer.from(value).toString("base64url")}`],
    ["URL-encoded", `mysql://app:${encodeURIComponent(value)}@db/shop`],
    ["JSON-escaped", JSON.stringify({ password: value })],
  ])("takes out the %s form", (_form, text) => {
    const out = scrubber.scrub(text);
    expect(out).toContain("[secret DB_PASSWORD]");
    expect(out).not.toContain("p@ss");
    expect(out).not.toContain(Buffer.from(value).toString("base64").slice(0, 8));
  });

  it("takes out each line of a multi-line secret, and the longer of two secrets whole", () => {
    const pem = new SecretScrubber([
      { name: "KEY", value: "-----BEGIN KEY-----\nAAAABBBBCCCC\n-----END KEY-----" },
      { name: "SHORT", value: "AAAA" },
    ]);
    expect(pem.scrub("line: AAAABBBBCCCC")).toBe("line: [secret KEY]");
    expect(pem.scrub("only AAAA here")).toBe("only [secret SHORT] here");
  });

  it("leaves text without secrets alone, and adds secrets with `with`", () => {
    expect(NO_SECRETS.scrub("nothing to see")).toBe("nothing to see");
    expect(NO_SECRETS.empty).toBe(true);
    const more = scrubber.with([{ name: "TOKEN", value: "tok-123456" }]);
    expect(more.scrub(`${value} tok-123456`)).toBe("[secret DB_PASSWORD] [secret TOKEN]");
  });

  it("takes out the cut form a message quotes of a long secret", () => {
    const long = `${"k".repeat(40)}-${"z".repeat(40)}`;
    const quoted = `got "${long.slice(0, 57)}..."`;
    expect(new SecretScrubber([{ name: "LONG", value: long }]).scrub(quoted)).toBe(
      'got "[secret LONG]..."',
    );
  });
});
