import type { ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createSandbox,
  destroySandbox,
  type SkiffSandbox,
  skiff,
  startForegroundServer,
} from "./support/skiff-harness.js";

describe("a port of the data plane already taken by another program", () => {
  let sandbox: SkiffSandbox;
  let server: ChildProcess;
  let squatter: Server;

  beforeAll(async () => {
    sandbox = await createSandbox();
    // Answers /v2/ like a registry would: the managed registry must not mistake it for itself.
    squatter = createServer((_req, res) => {
      res.setHeader("docker-distribution-api-version", "registry/2.0");
      res.end("{}");
    });
    await new Promise<void>((resolve) =>
      squatter.listen(sandbox.registryPort, "127.0.0.1", resolve),
    );
    server = await startForegroundServer(sandbox);
  });
  afterAll(async () => {
    await destroySandbox(sandbox, server);
    await new Promise((resolve) => squatter.close(resolve));
  });

  it("is reported as down with the port and how to free it, not restarted in a loop", async () => {
    await sleep(3000);
    const result = await skiff(sandbox, ["status"]);
    expect(result.stdout, result.stdout).toContain("registry   DOWN");
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`port ${sandbox.registryPort} on 127.0.0.1 is already taken`);
    expect(result.stdout).toContain("SKIFF_REGISTRY_PORT");
    const events = JSON.parse((await skiff(sandbox, ["events", "--json"])).stdout) as {
      component: string;
      kind: string;
    }[];
    const registryEvents = events.filter((e) => e.component === "registry").map((e) => e.kind);
    expect(registryEvents).not.toContain("started");
    // Backoff: 1 s, then 2 s: at most three attempts in the first seconds.
    expect(registryEvents.filter((k) => k === "start_failed").length).toBeLessThanOrEqual(3);
    expect(result.stdout).toMatch(/edge\s+up/);
  });
});
