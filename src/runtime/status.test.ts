import { describe, expect, it } from "vitest";
import { loadConfig } from "../config.js";
import { connectDocker } from "../docker/engine.js";
import { EdgeRuntimeApi } from "../edge/runtime-api.js";
import { RegistryClient } from "../registry/client.js";
import { openDatabase } from "../state/database.js";
import { Store } from "../state/store.js";
import { collectStatus } from "./status.js";

describe("collectStatus", () => {
  it("reports each part that is down with what is wrong and how to fix it, and the rest up", async () => {
    const config = loadConfig({
      SKIFF_HOME: "/nonexistent/skiff",
      SKIFF_DOCKER_SOCKET: "/nonexistent/docker.sock",
      SKIFF_REGISTRY_PORT: "1",
    });
    const report = await collectStatus({
      config,
      docker: connectDocker(config.dockerSocket),
      registry: new RegistryClient({ url: `http://${config.registryAddress}`, timeoutMs: 1000 }),
      edgeRuntime: new EdgeRuntimeApi(config.paths.edgeSocket),
      store: new Store(openDatabase(":memory:")),
      processes: () => [
        {
          name: "edge",
          state: "down",
          restarts: 2,
          lastError: "the edge exited right after start",
        },
      ],
    });
    expect(report.ok).toBe(false);
    expect(report.components.docker).toMatchObject({
      up: false,
      address: "unix:///nonexistent/docker.sock",
      error: "Docker Engine at /nonexistent/docker.sock: ENOENT",
      hint: expect.stringContaining("start the Docker daemon"),
    });
    expect(report.components.registry).toMatchObject({
      up: false,
      mode: "managed",
      address: "http://127.0.0.1:1",
      error: expect.stringContaining("http://127.0.0.1:1"),
    });
    expect(report.components.edge).toMatchObject({
      up: false,
      restarts: 2,
      error: "the edge exited right after start",
      hint: "skiff server retries with backoff; `skiff events` shows each attempt",
    });
    expect(report.components.database).toMatchObject({
      up: true,
      version: expect.stringMatching(/^SQLite 3\.\d+\.\d+, schema \d+$/),
    });
  });
});
