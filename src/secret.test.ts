import { format, inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { Secret } from "./secret.js";

const VALUE = "hunter2-s3cr3t";

describe("Secret", () => {
  const secret = new Secret(VALUE);

  it("gives the value back only through reveal()", () => {
    expect(secret.reveal()).toBe(VALUE);
  });

  it.each([
    ["String()", () => String(secret)],
    ["template string", () => `password=${secret}`],
    ["Array.join", () => ["password", secret].join("=")],
    ["JSON.stringify", () => JSON.stringify({ user: "ops", password: secret })],
    ["util.inspect", () => inspect({ password: secret }, { showHidden: true, depth: 5 })],
    ["util.format %s/%o/%j", () => format("%s %o %j", secret, secret, secret)],
    ["error message", () => new Error(`login failed with ${secret}`).message],
  ])("%s never shows the value", (_name, render) => {
    const text = render();
    expect(text).not.toContain(VALUE);
    expect(text).toContain("[redacted]");
  });

  it("names itself in util.inspect", () => {
    expect(inspect(secret)).toBe("Secret([redacted])");
  });

  it("serialises to the redacted marker", () => {
    expect(JSON.stringify(secret)).toBe('"[redacted]"');
    expect(JSON.parse(JSON.stringify({ password: secret }))).toEqual({ password: "[redacted]" });
  });
});
