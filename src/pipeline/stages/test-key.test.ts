import type Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../canonical-json.js";
import { FILES_LABEL, type TestContainer, testKey } from "./test-key.js";

const test: TestContainer = {
  imageId: "sha256:aaa",
  options: {
    Image: "127.0.0.1:5000/shop/web:r7",
    Entrypoint: ["/bin/sh", "-c"],
    Cmd: ["node --test"],
    Env: ["API_URL=http://api:4000"],
    Labels: { "skiff.app": "shop", "skiff.test-run": "7" },
    HostConfig: { NetworkMode: "net-of-run-7", AutoRemove: false },
  },
};
const api: TestContainer = {
  imageId: "sha256:bbb",
  options: {
    Image: "127.0.0.1:5000/shop/api:r7",
    Env: ["PORT=4000"],
    Labels: { "skiff.app": "shop", "skiff.test-run": "7" },
    HostConfig: { NetworkMode: "net-of-run-7" },
    NetworkingConfig: { EndpointsConfig: { "net-of-run-7": { Aliases: ["api"] } } },
  },
};

/** The same container in a later run: new tag, labels and network, nothing else. */
function nextRun(c: TestContainer, changes: Partial<Docker.ContainerCreateOptions> = {}) {
  const options = c.options;
  return {
    imageId: c.imageId,
    options: {
      ...options,
      Image: String(options.Image).replace(":r7", ":r8"),
      Labels: { ...options.Labels, "skiff.test-run": "8" },
      HostConfig: { ...options.HostConfig, NetworkMode: "net-of-run-8" },
      ...(options.NetworkingConfig && {
        NetworkingConfig: { EndpointsConfig: { "net-of-run-8": { Aliases: ["api"] } } },
      }),
      ...changes,
    },
  };
}

describe("testKey", () => {
  const base = testKey(test, [api]);

  it("is the same for the same containers in another run", () => {
    expect(testKey(nextRun(test), [nextRun(api)])).toBe(base);
  });

  it.each([
    ["another image of the service", { ...nextRun(test), imageId: "sha256:ccc" }, [api]],
    ["another command", nextRun(test, { Cmd: ["node --test --bail"] }), [api]],
    ["another environment", nextRun(test, { Env: ["API_URL=http://api:5000"] }), [api]],
    ["another user", nextRun(test, { User: "1000" }), [api]],
    ["another working directory", nextRun(test, { WorkingDir: "/srv" }), [api]],
    [
      "a dependency's other healthcheck",
      test,
      [nextRun(api, { Healthcheck: { Test: ["CMD", "true"], Interval: 1e9 } })],
    ],
    ["another image of a dependency", test, [{ ...api, imageId: "sha256:ddd" }]],
    [
      "a dependency's other alias",
      test,
      [nextRun(api, { NetworkingConfig: { EndpointsConfig: { n: { Aliases: ["db"] } } } })],
    ],
    ["one dependency fewer", test, []],
    [
      "other release files of the service",
      nextRun(test, { Labels: { ...test.options.Labels, [FILES_LABEL]: "sha256:f2" } }),
      [api],
    ],
    [
      "other release files of a dependency",
      test,
      [nextRun(api, { Labels: { ...api.options.Labels, [FILES_LABEL]: "sha256:f3" } })],
    ],
  ] as const)("changes with %s", (_what, changed, dependencies) => {
    expect(testKey(changed, dependencies)).not.toBe(base);
  });
});

describe("canonicalJson", () => {
  it("sorts keys at every level and keeps array order", () => {
    expect(canonicalJson({ b: 1, a: { d: [2, 1], c: null } })).toBe(
      '{"a":{"c":null,"d":[2,1]},"b":1}',
    );
  });
});
