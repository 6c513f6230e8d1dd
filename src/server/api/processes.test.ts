import type { InjectOptions } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { DeployFailure, type Log } from "../../deploy/deployer.js";
import { ValidationError } from "../../errors.js";
import { AUTH, buildTestServer, specOf, type TestServer } from "../test-server.js";
import { type ProcessControl, parseScaleBody, toProcessView } from "./processes.js";

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
    address: { host: "127.0.0.1", port: 32768 },
    createdAt: 1_740_000_000,
    onAppNetwork: true,
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
        address: undefined,
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

const SPEC = specOf(
  "services:\n  web:\n    image: example/web\n    x-skiff: { port: 8080 }\n  worker:\n    image: example/worker\n",
);

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
  const servers: TestServer[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
  });

  /** A server whose app has a live release r1 of SPEC, unless `live` is false. */
  function build(options: { engine?: boolean; live?: boolean } = {}) {
    const deployer = new FakeDeployer();
    const built = buildTestServer(options.engine === false ? {} : { deployer });
    servers.push(built);
    if (options.live !== false) built.release(SPEC, "live", "aaaa");
    /** Injects a request to one of shop's routes (ps, scale, restart) with the admin token. */
    const request = (
      method: InjectOptions["method"],
      path: string,
      payload?: InjectOptions["payload"],
    ) => built.request(method, `/api/v1/apps/shop/${path}`, payload);
    return { server: built.server, deployer, request };
  }

  const ndjson = (body: string) =>
    body
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line));

  it("lists replicas sorted by service and replica, with host port and uptime", async () => {
    const { request, deployer } = build();
    deployer.replicas = [
      replica({ service: "worker", replica: 1, address: undefined, name: "w1" }),
      replica({ replica: 2, name: "web2", startedAt: new Date(Date.now() - 5000).toISOString() }),
      replica({ replica: 1, name: "web1", restarts: 1 }),
    ];
    const response = await request("GET", "ps");
    expect(response.statusCode).toBe(200);
    const { replicas } = response.json();
    expect(replicas.map((r: { container: string }) => r.container)).toEqual(["web1", "web2", "w1"]);
    expect(replicas[0]).toMatchObject({ hostPort: "127.0.0.1:32768", restarts: 1 });
    expect(replicas[1].uptime).toBeGreaterThanOrEqual(4);
    expect(replicas[1].uptime).toBeLessThan(60);
  });

  it("answers 502 when Docker cannot list the containers", async () => {
    const { request, deployer } = build();
    deployer.next = new Error("connect ENOENT /var/run/docker.sock");
    const response = await request("GET", "ps");
    expect(response.statusCode).toBe(502);
    expect(response.json().error.message).toBe(
      "cannot list the containers of shop: connect ENOENT /var/run/docker.sock",
    );
  });

  it("streams a scale's progress as NDJSON and ends with the result", async () => {
    const { request, deployer } = build();
    const response = await request("POST", "scale", { web: 2, worker: 0 });
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
    const { request, deployer } = build();
    deployer.isBusy = true;
    const response = await request("POST", "scale", { web: 2 });
    expect(ndjson(response.body)[0]).toEqual({
      type: "log",
      text: "scaling web to 2 (release r1) (waiting for the deploy, scale or restart of shop in progress)",
    });
  });

  it("reports a failed restart in the result line, with the container's log tail", async () => {
    const { request, deployer } = build();
    deployer.next = new DeployFailure("web replica 1 did not become healthy within 30s", [
      "listening on :8081",
      "GET /healthz 404",
    ]);
    const response = await request("POST", "restart", { service: "web" });
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
    const { request, deployer } = build();
    const response = await request("POST", "restart", {});
    expect(ndjson(response.body).at(-1)).toEqual({ type: "result", ok: true });
    expect(deployer.calls).toEqual([["restart", "shop", undefined]]);
  });

  it("carries a SkiffError's hint into the result line", async () => {
    const { request, deployer } = build();
    deployer.next = new ValidationError("shop has no service named web", "services: api");
    const response = await request("POST", "scale", { web: 1 });
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
      const { request, deployer } = build();
      const response = await request("POST", path, payload);
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
      const { request, deployer } = build({ live: false });
      const response = await request("POST", path, { web: 1 });
      expect(response.statusCode).toBe(404);
      expect(response.json().error.message).toBe("shop has no live release yet");
      expect(deployer.calls).toEqual([]);
    },
  );

  const routes = [
    ["GET", "ps"],
    ["POST", "scale"],
    ["POST", "restart"],
  ] as const;

  it.each(routes)(
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

  it.each(routes)(
    "answers %s %s with 502 on a server without a deploy engine",
    async (method, path) => {
      const { request } = build({ engine: false });
      const response = await request(method, path, { web: 1 });
      expect(response.statusCode).toBe(502);
      expect(response.json().error.code).toBe("dependency_failed");
    },
  );
});
