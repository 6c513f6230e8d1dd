import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pushTinyImage, startTestRegistry, type TestRegistry } from "./support/registry-image.js";
import {
  createSandbox,
  destroySandbox,
  type SkiffSandbox,
  skiff,
  startForegroundServer,
} from "./support/skiff-harness.js";

describe("an external registry instead of the managed one", () => {
  let registry: TestRegistry;
  let sandbox: SkiffSandbox;
  let server: ChildProcess;

  beforeAll(async () => {
    registry = await startTestRegistry();
    sandbox = await createSandbox();
    sandbox.env.SKIFF_REGISTRY_URL = registry.url;
    server = await startForegroundServer(sandbox);
  });
  afterAll(async () => {
    await destroySandbox(sandbox, server);
    await registry.stop();
  });

  it("is used and reported, and Skiff starts no registry of its own", async () => {
    expect(existsSync(join(sandbox.home, "run", "registry.pid"))).toBe(false);
    expect(existsSync(join(sandbox.home, "registry"))).toBe(false);
    const status = JSON.parse((await skiff(sandbox, ["status", "--json"])).stdout);
    expect(status.components.registry).toMatchObject({
      up: true,
      mode: "external",
      address: registry.url,
    });
  });

  it("holds the tags apps:destroy removes", async () => {
    expect((await skiff(sandbox, ["apps:create", "shop"])).code).toBe(0);
    await pushTinyImage(registry.url, "shop/web", "r1");
    const destroyed = await skiff(sandbox, ["apps:destroy", "shop", "--confirm", "shop", "--json"]);
    expect(JSON.parse(destroyed.stdout).registryTags).toEqual(["shop/web:r1"]);
  });

  it("when down, makes status fail with which registry and why", async () => {
    await registry.stop();
    const result = await skiff(sandbox, ["status"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/registry\s+DOWN/);
    expect(result.stdout).toContain(registry.url);
    expect(result.stdout).toMatch(/registry: .*(refused|ECONNREFUSED)/i);
    expect(result.stdout).toContain("fix:");
  });
});
