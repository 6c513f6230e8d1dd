import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  credentialHeaderProblem,
  deliveryKeys,
  isPushEvent,
  parsePushEvent,
  verifyWebhook,
} from "./verify.js";

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
    [
      "gitlab",
      { "x-gitlab-token": `${secret}x` },
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

describe("credentialHeaderProblem", () => {
  it.each([
    ["github", { "x-hub-signature-256": `sha256=${hex}` }, undefined],
    ["github", {}, "the X-Hub-Signature-256 header is missing"],
    [
      "github",
      { "x-hub-signature-256": hex },
      "the X-Hub-Signature-256 header is not shaped as github sends it",
    ],
    [
      "github",
      { "x-hub-signature-256": `sha1=${hex.slice(0, 40)}` },
      "the X-Hub-Signature-256 header is not shaped as github sends it",
    ],
    ["gitea", { "x-gitea-signature": hex }, undefined],
    [
      "gitea",
      { "x-gitea-signature": `${hex}00` },
      "the X-Gitea-Signature header is not shaped as gitea sends it",
    ],
    ["gitlab", { "x-gitlab-token": secret }, undefined],
    [
      "gitlab",
      { "x-gitlab-token": "x".repeat(257) },
      "the X-Gitlab-Token header is not shaped as gitlab sends it",
    ],
    ["gitlab", { "x-gitlab-token": "" }, "the X-Gitlab-Token header is missing"],
  ] as const)("%s %j → %s", (forge, headers, problem) => {
    expect(credentialHeaderProblem(forge, headers)).toBe(problem);
  });
});

describe("deliveryKeys", () => {
  it("names a delivery by each id its forge sends and by its body's digest", () => {
    const keys = (forge: "github" | "gitlab" | "gitea", headers: Record<string, string>) =>
      deliveryKeys(forge, headers, body).map((k) => (k.startsWith("body:") ? "body" : k));
    expect(keys("github", { "x-github-delivery": "72d3162e" })).toEqual([
      "id:github:72d3162e",
      "body",
    ]);
    expect(keys("gitea", { "x-gitea-delivery": "g-1" })).toEqual(["id:gitea:g-1", "body"]);
    expect(keys("gitlab", { "idempotency-key": "k-1", "x-gitlab-event-uuid": "u-1" })).toEqual([
      "id:gitlab:k-1",
      "id:gitlab:u-1",
      "body",
    ]);
    // Another forge's header is not this forge's id; an overlong value is no id.
    expect(keys("github", { "x-gitea-delivery": "g-1" })).toEqual(["body"]);
    expect(keys("github", { "x-github-delivery": "x".repeat(201) })).toEqual(["body"]);
  });

  it("gives the same body the same digest, whatever the headers, and another body another", () => {
    const [a] = deliveryKeys("github", {}, body);
    const [b] = deliveryKeys("github", { "x-github-delivery": "other" }, body).slice(-1);
    const [c] = deliveryKeys("github", {}, Buffer.from("{}"));
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(a).toMatch(/^body:[0-9a-f]{64}$/);
  });
});
