import { describe, expect, it } from "vitest";
import { isInternalVertex, parseExitCode, toBuildQuery } from "./request.js";

describe("toBuildQuery", () => {
  it("a minimal request: BuildKit, the tag, the Dockerfile, inline cache on", () => {
    expect(toBuildQuery({ contextDir: "/src/web", tags: ["127.0.0.1:5000/shop/web:r1"] })).toEqual({
      version: "2",
      t: ["127.0.0.1:5000/shop/web:r1"],
      dockerfile: "Dockerfile",
      buildargs: '{"BUILDKIT_INLINE_CACHE":"1"}',
    });
  });

  it("every option of a full request", () => {
    expect(
      toBuildQuery({
        contextDir: "/src/orders",
        dockerfile: "docker/Dockerfile.prod",
        target: "runtime",
        args: { NODE_ENV: "production", BUILDKIT_INLINE_CACHE: "0" },
        tags: ["127.0.0.1:5000/shop/orders:0123456789ab", "127.0.0.1:5000/shop/orders:r7"],
        cacheFrom: ["127.0.0.1:5000/shop/orders:r6"],
        labels: { "skiff.app": "shop", "skiff.service": "orders" },
        signal: new AbortController().signal,
      }),
    ).toEqual({
      version: "2",
      t: ["127.0.0.1:5000/shop/orders:0123456789ab", "127.0.0.1:5000/shop/orders:r7"],
      dockerfile: "docker/Dockerfile.prod",
      target: "runtime",
      // the inline cache cannot be turned off: later builds depend on it
      buildargs: '{"NODE_ENV":"production","BUILDKIT_INLINE_CACHE":"1"}',
      cachefrom: '["127.0.0.1:5000/shop/orders:r6"]',
      labels: '{"skiff.app":"shop","skiff.service":"orders"}',
    });
  });

  it("leaves out empty cache sources and labels", () => {
    const query = toBuildQuery({ contextDir: ".", tags: ["x:1"], cacheFrom: [], labels: {} });
    expect(Object.keys(query).sort()).toEqual(["buildargs", "dockerfile", "t", "version"]);
  });
});

describe("parseExitCode", () => {
  it.each([
    ["executor failed running [/bin/sh -c false]: exit code: 1", 1],
    ['process "/bin/sh -c npm ci" did not complete successfully: exit code: 127', 127],
    ["executor failed running [/bin/sh -c exit 3]: exit code: 3", 3],
    ['failed to compute cache key: "/nothere" not found: not found', undefined],
  ])("%s → %s", (message, code) => {
    expect(parseExitCode(message)).toBe(code);
  });
});

describe("isInternalVertex", () => {
  it.each([
    ["[1/3] FROM docker.io/skiff-test/busybox:1", false],
    ["[2/4] RUN npm ci", false],
    ["[builder 2/4] RUN npm ci", false],
    ["[stage-1 3/3] COPY --from=builder /app /app", false],
    ["[internal] load remote build context", true],
    ["[internal] load metadata for docker.io/library/node:20", true],
    ["copy /context /", true],
    ["importing cache manifest from 127.0.0.1:5000/shop/web:r6", true],
    ["exporting to image", true],
    ["exporting cache", true],
  ])("%s → %s", (name, internal) => {
    expect(isInternalVertex(name)).toBe(internal);
  });
});
