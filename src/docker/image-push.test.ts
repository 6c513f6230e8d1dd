import { describe, expect, it } from "vitest";
import { Secret } from "../secret.js";
import {
  describePushFailure,
  LayerCoalescer,
  type LayerEvent,
  pushedDigest,
  registryAuthHeader,
  repositoryOf,
} from "./image-push.js";

describe("registryAuthHeader", () => {
  it("is {} for anonymous pushes: the daemon refuses a push without the header", () => {
    expect(registryAuthHeader(undefined).reveal()).toBe(Buffer.from("{}").toString("base64"));
  });

  it("is base64url with padding of the JSON auth config, and stays a Secret", () => {
    const header = registryAuthHeader({ username: "ci", password: new Secret("p>?>?~") });
    const decoded = Buffer.from(
      header.reveal().replaceAll("-", "+").replaceAll("_", "/"),
      "base64",
    );
    expect(JSON.parse(decoded.toString())).toEqual({ username: "ci", password: "p>?>?~" });
    expect(header.reveal()).not.toMatch(/[+/]/);
    expect(header.reveal().length % 4).toBe(0);
    expect(String(header)).toBe("[redacted]");
  });
});

describe("repositoryOf", () => {
  it.each([
    ["127.0.0.1:5000/shop/web", "shop/web"],
    ["registry.example.com/team/app", "team/app"],
    ["localhost/app", "app"],
    ["shop/web", "shop/web"],
    ["web", "web"],
  ])("%s → %s", (image, repository) => {
    expect(repositoryOf(image)).toBe(repository);
  });
});

describe("pushedDigest", () => {
  it("reads aux.Digest of the final message and nothing else", () => {
    const digest = `sha256:${"c".repeat(64)}`;
    expect(pushedDigest({ progressDetail: {}, aux: { Tag: "1", Digest: digest, Size: 942 } })).toBe(
      digest,
    );
    expect(pushedDigest({ status: "Pushed", id: "193fb788d2a4" })).toBeUndefined();
  });
});

describe("LayerCoalescer", () => {
  function run(messages: Array<[number, string, string, number?]>): LayerEvent[] {
    const events: LayerEvent[] = [];
    let now = 0;
    const coalescer = new LayerCoalescer(
      (event) => events.push(event),
      500,
      () => now,
    );
    for (const [at, id, status, current] of messages) {
      now = at;
      coalescer.add({
        id,
        status,
        ...(current === undefined ? {} : { progressDetail: { current, total: 10_000 } }),
      });
    }
    coalescer.flush();
    return events;
  }

  it("sends every status change, and byte progress at most every 500 ms per layer", () => {
    const events = run([
      [0, "a", "Preparing"],
      [1, "b", "Preparing"],
      [10, "a", "Pushing", 1000],
      [20, "a", "Pushing", 2000],
      [30, "a", "Pushing", 3000],
      [600, "a", "Pushing", 8000],
      [650, "a", "Pushing", 9000],
      [700, "a", "Pushed"],
      [710, "b", "Layer already exists"],
    ]);
    expect(events.map((e) => [e.id, e.status, e.current])).toEqual([
      ["a", "Preparing", undefined],
      ["b", "Preparing", undefined],
      ["a", "Pushing", 1000],
      ["a", "Pushing", 8000],
      // the last progress before the change is not lost
      ["a", "Pushing", 9000],
      ["a", "Pushed", undefined],
      ["b", "Layer already exists", undefined],
    ]);
  });

  it("ignores messages that are not about a layer", () => {
    const events = run([[0, "", "The push refers to repository [127.0.0.1:5000/shop/web]"]]);
    expect(events).toEqual([]);
  });
});

describe("describePushFailure", () => {
  const ref = "127.0.0.1:5000/shop/web:r1";
  const registry = "http://127.0.0.1:5000";
  it.each([
    [
      'Get "http://127.0.0.1:5000/v2/": dial tcp 127.0.0.1:5000: connect: connection refused',
      "the registry is not running",
      "start the registry",
    ],
    [
      'Get "https://reg.example:5000/v2/": http: server gave HTTP response to HTTPS client',
      "plain HTTP",
      "insecure-registries",
    ],
    ["unauthorized: authentication required", "wants credentials", "SKIFF_REGISTRY_USERNAME"],
    ["denied: requested access to the resource is denied", "denied the push", "push rights"],
    [
      "An image does not exist locally with the tag: 127.0.0.1:5000/shop/web",
      "not on this Docker host",
      "build or tag",
    ],
    [
      'Get "https://reg.example/v2/": x509: certificate signed by unknown authority',
      "not trusted",
      "certs.d",
    ],
    [
      'Get "http://reg.example/v2/": dial tcp: lookup reg.example: no such host',
      "does not resolve",
      "SKIFF_REGISTRY_URL",
    ],
    ["something new", "the daemon reported an error", "logs"],
  ])("%s", (said, reason, hint) => {
    const description = describePushFailure(said, ref, registry);
    expect(description.message).toContain(`push ${ref} to ${registry} failed: `);
    expect(description.message).toContain(reason);
    expect(description.message).toContain(said);
    expect(description.hint).toContain(hint);
  });
});
