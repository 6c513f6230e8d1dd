import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isPushEvent, parsePushEvent, verifyWebhook } from "./verify.js";

const secret = "s3cret";
const body = Buffer.from('{"ref":"refs/heads/main"}');
const hex = createHmac("sha256", secret).update(body).digest("hex");

describe("verifyWebhook", () => {
  it.each([
    ["github", { "x-hub-signature-256": `sha256=${hex}` }, { ok: true }],
    [
      "github",
      { "x-hub-signature-256": `sha256=${"0".repeat(64)}` },
      {
        ok: false,
        reason: "the X-Hub-Signature-256 signature does not match the app's webhook secret",
      },
    ],
    [
      "github",
      { "x-hub-signature-256": hex },
      {
        ok: false,
        reason: "the X-Hub-Signature-256 signature does not match the app's webhook secret",
      },
    ],
    ["github", {}, { ok: false, reason: "the X-Hub-Signature-256 header is missing" }],
    ["gitea", { "x-gitea-signature": hex }, { ok: true }],
    [
      "gitea",
      { "x-gitea-signature": hex.toUpperCase() },
      {
        ok: false,
        reason: "the X-Gitea-Signature signature does not match the app's webhook secret",
      },
    ],
    ["gitea", {}, { ok: false, reason: "the X-Gitea-Signature header is missing" }],
    ["gitlab", { "x-gitlab-token": secret }, { ok: true }],
    [
      "gitlab",
      { "x-gitlab-token": "s3cre" },
      { ok: false, reason: "the X-Gitlab-Token does not match the app's webhook secret" },
    ],
    ["gitlab", {}, { ok: false, reason: "the X-Gitlab-Token header is missing" }],
  ] as const)("%s %j → %j", (forge, headers, expected) => {
    expect(verifyWebhook(forge, headers, body, secret)).toEqual(expected);
  });

  it("rejects a signature of a different body", () => {
    const other = Buffer.from('{"ref":"refs/heads/evil"}');
    expect(
      verifyWebhook("github", { "x-hub-signature-256": `sha256=${hex}` }, other, secret).ok,
    ).toBe(false);
  });
});

describe("push events", () => {
  it.each([
    ["github", { "x-github-event": "push" }, true],
    ["github", { "x-github-event": "ping" }, false],
    ["gitea", { "x-gitea-event": "push" }, true],
    ["gitlab", { "x-gitlab-event": "Push Hook" }, true],
    ["gitlab", { "x-gitlab-event": "Tag Push Hook" }, false],
  ] as const)("%s %j is a push: %s", (forge, headers, push) => {
    expect(isPushEvent(forge, headers)).toBe(push);
  });

  it("reads ref and after, and refuses anything malformed", () => {
    const sha = "a".repeat(40);
    expect(parsePushEvent({ ref: "refs/heads/main", after: sha })).toEqual({
      ref: "refs/heads/main",
      after: sha,
    });
    expect(parsePushEvent({ ref: "main", after: sha })).toBeUndefined();
    expect(parsePushEvent({ ref: "refs/heads/main", after: "HEAD" })).toBeUndefined();
    expect(parsePushEvent({ ref: "refs/heads/main", after: "--upload-pack=x" })).toBeUndefined();
    expect(parsePushEvent(null)).toBeUndefined();
  });
});
