import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { afterEach, describe, expect, it } from "vitest";
import type { AppService } from "../../apps/app-service.js";
import { DeployFailure, type Log } from "../../deploy/deployer.js";
import { ValidationError } from "../../errors.js";
import { Pipeline, type StageRunners } from "../../pipeline/pipeline.js";
import type { RegistryClient } from "../../registry/client.js";
import { parseSpec } from "../../spec/index.js";
import { openDatabase } from "../../state/database.js";
import { DeploymentStore } from "../../state/deployments.js";
import { RunStore } from "../../state/runs.js";
import { Store } from "../../state/store.js";
import { hashToken } from "../admin-token.js";
import { buildHttpServer } from "../http.js";
import { type ProcessControl, parseScaleBody, toProcessView } from "./processes.js";

const TOKEN = "skiff_test-token";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const NOW = new Date("2025-03-01T12:00:00.000Z");

type PsReplica = Awaited<ReturnType<ProcessControl["ps"]>>[number];

function replica(overrides: Partial<PsReplica> = {}): PsReplica {
  return {
    id: "c0ffee",
    name: "skiff-shop-web-r3-1-a1b2c3",
    app: "shop",
    service: "web",
    release: 3,
    replica: 1,
    state: "running",
    health: "healthy",
    containerPort: 8080,
    hostPort: 32768,
    createdAt: 1_740_000_000,
    restarts: 0,
    startedAt: "2025-03-01T11:58:00.000Z",
    ...overrides,
  };
}

describe("toProcessView", () => {
  it.each([
    {
      name: "a healthy running replica",
      replica: replica(),
      expected: {
        service: "web",
        replica: 1,
        release: 3,
        state: "running",
        health: "healthy",
        hostPort: "127.0.0.1:32768",
        uptime: 120,
        restarts: 0,
        container: "skiff-shop-web-r3-1-a1b2c3",
      },
    },
    {
      name: "a worker without health check or port, restarted twice",
      replica: replica({
        service: "worker",
        name: "skiff-shop-worker-r3-2-ffffff",
        replica: 2,
        health: undefined,
        containerPort: undefined,
        hostPort: undefined,
        restarts: 2,
        startedAt: "2025-03-01T10:00:00.000Z",
      }),
      expected: {
        service: "worker",
        replica: 2,
        release: 3,
        state: "running",
        uptime: 7200,
        restarts: 2,
        container: "skiff-shop-worker-r3-2-ffffff",
      },
    },
    {
      name: "an exited replica has no uptime",
      replica: replica({ state: "exited", health: "unhealthy" }),
      expected: {
        service: "web",
        replica: 1,
        release: 3,
        state: "exited",
        health: "unhealthy",
        hostPort: "127.0.0.1:32768",
        restarts: 0,
        container: "skiff-shop-web-r3-1-a1b2c3",
      },
    },
    {
      name: "a replica that never started has no uptime",
      replica: replica({ state: "created", health: undefined, startedAt: undefined }),
      expected: {
        service: "web",
        replica: 1,
        release: 3,
        state: "created",
        hostPort: "127.0.0.1:32768",
        restarts: 0,
        container: "skiff-shop-web-r3-1-a1b2c3",
      },
    },
  ])("$name", ({ replica, expected }) => {
    expect(toProcessView(replica, NOW)).toEqual(expected);
  });
});

describe("parseScaleBody", () => {
  it.each([
    [
      { web: 3, worker: 0 },
      { web: 3, worker: 0 },
    ],
    [{ web: 100 }, { web: 100 }],
  ])("accepts %j", (body, expected) => {
    expect(parseScaleBody(body)).toEqual(expected);
  });

  it.each([
    [undefined, "the scale body must be an object of service → replicas"],
    [null, "the scale body must be an object of service → replicas"],
    [[3], "the scale body must be an object of service → replicas"],
    ["web=3", "the scale body must be an object of service → replicas"],
    [{}, "the scale body names no service"],
    [{ web: 3, worker: -1 }, 'replicas for "worker" must be a whole number from 0 to 100 (got -1)'],
    [{ web: 101 }, 'replicas for "web" must be a whole number from 0 to 100 (got 101)'],
    [{ web: 1.5 }, 'replicas for "web" must be a whole number from 0 to 100 (got 1.5)'],
    [{ web: "3" }, 'replicas for "web" must be a whole number from 0 to 100 (got "3")'],
    [{ web: null }, 'replicas for "web" must be a whole number from 0 to 100 (got null)'],
  ])("refuses %j", (body, message) => {
    expect(() => parseScaleBody(body)).toThrow(
      new ValidationError(message, 'e.g. {"web": 3, "worker": 0} (skiff scale APP web=3 worker=0)'),
    );
  });
});

/** Dependencies these routes never reach. */
function unreachable(): never {
  throw new Error("a dependency these routes do not use was called");
}

const SPEC = (() => {
  const parsed = parseSpec(
    "services:\n  web:\n    image: example/web\n    x-skiff: { port: 8080 }\n  worker:\n    image: example/worker\n",
    { fileName: "compose.yaml" },
  );
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.spec;
})();

/** A deployer with the real one's shapes: records calls, logs a line, then does what `next` says. */
class FakeDeployer implements ProcessControl {
  calls: unknown[][] = [];
  next: Error | undefined;
  replicas: PsReplica[] = [];
  isBusy = false;

  async ps(app: string) {
    this.calls.push(["ps", app]);
    if (this.next) throw this.next;
    return this.replicas;
  }

  async scale(app: string, counts: Record<string, number>, log: Log) {
    this.calls.push(["scale", app, counts]);
    log("started replica 2\nreplica 2 is healthy", "web");
    if (this.next) throw this.next;
  }

  async restart(app: string, service: string | undefined, log: Log) {
    this.calls.push(["restart", app, service]);
    log("replaced replica 1", service ?? "web");
    if (this.next) throw this.next;
  }

  busy(): boolean {
    return this.isBusy;
  }
}

describe("process routes", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function build(options: { engine?: boolean; live?: boolean } = {}) {
    const dir = mkdtempSync(join(tmpdir(), "skiff-processes-"));
    const db = openDatabase(join(dir, "skiff.db"));
    const store = new Store(db);
    store.addAdminTokenHash(hashToken(TOKEN));
    store.createApp("shop");
    const runs = new RunStore(db);
    const deployments = new DeploymentStore(db);
    if (options.live !== false) {
      const run = runs.createRun("shop", { kind: "git-push", commit: "aaaa" });
      const release = runs.createRelease({
        app: "shop",
        runId: run.id,
        trigger: "git-push",
        spec: SPEC,
        images: [],
        status: "published",
      });
      deployments.setLive("shop", release.number);
    }
    const deployer = new FakeDeployer();
    const server = buildHttpServer({
      store,
      apps: new Proxy({} as AppService, { get: () => unreachable }),
      status: unreachable,
      runs,
      pipeline: new Pipeline({
        runs,
        runners: new Proxy({} as StageRunners, { get: () => unreachable }),
        runsRoot: join(dir, "runs"),
        workRoot: join(dir, "work"),
      }),
      runsRoot: join(dir, "runs"),
      workRoot: join(dir, "work"),
      bases: {
        docker: new Proxy({} as Docker, { get: () => unreachable }),
        registry: new Proxy({} as RegistryClient, { get: () => unreachable }),
        registryAddress: "127.0.0.1:5000",
        workDir: join(dir, "work"),
      },
      git: {
        reposRoot: join(dir, "repos"),
        hookToken: "hook-token",
        hookEnv: unreachable,
        onPush: unreachable,
      },
      ...(options.engine === false ? {} : { deploy: { deployer, deployments } }),
    });
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    cleanups.push(() => {
      db.close();
    });
    cleanups.push(() => server.close());
    return { server, deployer, deployments };
  }

  const ndjson = (body: string) =>
    body
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line));

  it("lists replicas sorted by service and replica, with host port and uptime", async () => {
    const { server, deployer } = build();
    deployer.replicas = [
      replica({ service: "worker", replica: 1, hostPort: undefined, name: "w1" }),
      replica({ replica: 2, name: "web2", startedAt: new Date(Date.now() - 5000).toISOString() }),
      replica({ replica: 1, name: "web1", restarts: 1 }),
    ];
    const response = await server.inject({
      method: "GET",
      url: "/api/v1/apps/shop/ps",
      headers: AUTH,
    });
    expect(response.statusCode).toBe(200);
    const { replicas } = response.json();
    expect(replicas.map((r: { container: string }) => r.container)).toEqual(["web1", "web2", "w1"]);
    expect(replicas[0]).toMatchObject({ hostPort: "127.0.0.1:32768", restarts: 1 });
    expect(replicas[1].uptime).toBeGreaterThanOrEqual(4);
    expect(replicas[1].uptime).toBeLessThan(60);
  });

  it("answers 502 when Docker cannot list the containers", async () => {
    const { server, deployer } = build();
    deployer.next = new Error("connect ENOENT /var/run/docker.sock");
    const response = await server.inject({
      method: "GET",
      url: "/api/v1/apps/shop/ps",
      headers: AUTH,
    });
    expect(response.statusCode).toBe(502);
    expect(response.json().error.message).toBe(
      "cannot list the containers of shop: connect ENOENT /var/run/docker.sock",
    );
  });

  it("streams a scale's progress as NDJSON and ends with the result", async () => {
    const { server, deployer } = build();
    const response = await server.inject({
      method: "POST",
      url: "/api/v1/apps/shop/scale",
      headers: AUTH,
      payload: { web: 2, worker: 0 },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toBe("application/x-ndjson; charset=utf-8");
    expect(ndjson(response.body)).toEqual([
      { type: "log", text: "scaling web to 2, worker to 0 (release r1)" },
      { type: "log", service: "web", text: "started replica 2" },
      { type: "log", service: "web", text: "replica 2 is healthy" },
      { type: "result", ok: true },
    ]);
    expect(deployer.calls).toEqual([["scale", "shop", { web: 2, worker: 0 }]]);
  });

  it("says when the scale waits for another operation on the app", async () => {
    const { server, deployer } = build();
    deployer.isBusy = true;
    const response = await server.inject({
      method: "POST",
      url: "/api/v1/apps/shop/scale",
      headers: AUTH,
      payload: { web: 2 },
    });
    expect(ndjson(response.body)[0]).toEqual({
      type: "log",
      text: "scaling web to 2 (release r1) (waiting for the deploy, scale or restart of shop in progress)",
    });
  });

  it("reports a failed restart in the result line, with the container's log tail", async () => {
    const { server, deployer } = build();
    deployer.next = new DeployFailure("web replica 1 did not become healthy within 30s", [
      "listening on :8081",
      "GET /healthz 404",
    ]);
    const response = await server.inject({
      method: "POST",
      url: "/api/v1/apps/shop/restart",
      headers: AUTH,
      payload: { service: "web" },
    });
    expect(response.statusCode).toBe(200);
    expect(ndjson(response.body)).toEqual([
      {
        type: "log",
        text: "restarting web of shop (release r1), new replicas before old go",
      },
      { type: "log", service: "web", text: "replaced replica 1" },
      {
        type: "result",
        ok: false,
        error: "web replica 1 did not become healthy within 30s",
        hint: "the replicas that served before keep serving",
        logTail: ["listening on :8081", "GET /healthz 404"],
      },
    ]);
    expect(deployer.calls).toEqual([["restart", "shop", "web"]]);
  });

  it("restarts every service when none is named", async () => {
    const { server, deployer } = build();
    const response = await server.inject({
      method: "POST",
      url: "/api/v1/apps/shop/restart",
      headers: AUTH,
      payload: {},
    });
    expect(ndjson(response.body).at(-1)).toEqual({ type: "result", ok: true });
    expect(deployer.calls).toEqual([["restart", "shop", undefined]]);
  });

  it("carries a SkiffError's hint into the result line", async () => {
    const { server, deployer } = build();
    deployer.next = new ValidationError("shop has no service named web", "services: api");
    const response = await server.inject({
      method: "POST",
      url: "/api/v1/apps/shop/scale",
      headers: AUTH,
      payload: { web: 1 },
    });
    expect(ndjson(response.body).at(-1)).toEqual({
      type: "result",
      ok: false,
      error: "shop has no service named web",
      hint: "services: api",
    });
  });

  it.each([
    [
      "scale",
      { web: "three" },
      400,
      'replicas for "web" must be a whole number from 0 to 100 (got "three")',
    ],
    ["scale", { db: 1 }, 400, 'shop has no service named "db"'],
    ["restart", { service: 3 }, 400, "service 3 is not a service name"],
    ["restart", { service: "db" }, 400, 'shop has no service named "db"'],
  ] as const)(
    "refuses a %s of %j with %i before streaming",
    async (path, payload, status, message) => {
      const { server, deployer } = build();
      const response = await server.inject({
        method: "POST",
        url: `/api/v1/apps/shop/${path}`,
        headers: AUTH,
        payload,
      });
      expect({ status: response.statusCode, message: response.json().error.message }).toEqual({
        status,
        message,
      });
      expect(response.json().error.hint).toBeTruthy();
      expect(deployer.calls).toEqual([]);
    },
  );

  it.each(["scale", "restart"])(
    "answers 404 to a %s of an app with no live release",
    async (path) => {
      const { server, deployer } = build({ live: false });
      const response = await server.inject({
        method: "POST",
        url: `/api/v1/apps/shop/${path}`,
        headers: AUTH,
        payload: { web: 1 },
      });
      expect(response.statusCode).toBe(404);
      expect(response.json().error.message).toBe("shop has no live release yet");
      expect(deployer.calls).toEqual([]);
    },
  );

  it.each([
    ["GET", "ps"],
    ["POST", "scale"],
    ["POST", "restart"],
  ] as const)(
    "answers %s %s of an unknown app with 404, and without a token with 401",
    async (method, path) => {
      const { server, deployer } = build();
      const unknown = await server.inject({
        method,
        url: `/api/v1/apps/nope/${path}`,
        headers: AUTH,
        payload: { web: 1 },
      });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().error.message).toBe('no app named "nope"');
      const anonymous = await server.inject({
        method,
        url: `/api/v1/apps/shop/${path}`,
        payload: { web: 1 },
      });
      expect(anonymous.statusCode).toBe(401);
      expect(deployer.calls).toEqual([]);
    },
  );

  it.each([
    ["GET", "ps"],
    ["POST", "scale"],
    ["POST", "restart"],
  ] as const)(
    "answers %s %s with 502 on a server without a deploy engine",
    async (method, path) => {
      const { server } = build({ engine: false });
      const response = await server.inject({
        method,
        url: `/api/v1/apps/shop/${path}`,
        headers: AUTH,
        payload: { web: 1 },
      });
      expect(response.statusCode).toBe(502);
      expect(response.json().error.code).toBe("dependency_failed");
    },
  );
});
