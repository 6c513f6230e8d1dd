import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Plan, PlanService } from "../spec/index.js";
import { HttpHealthWatch } from "./http-health-watch.js";
import type { Replica } from "./replicas.js";

let server: Server;
let port: number;
let status = 200;

beforeAll(async () => {
  server = createServer((_req, res) => {
    res.statusCode = status;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const web = {
  name: "web",
  health: {
    type: "http",
    port: 80,
    path: "/healthz",
    intervalMs: 1000,
    retries: 2,
    deadlineMs: 1000,
  },
} as unknown as PlanService;
const worker = {
  name: "worker",
  health: { type: "running", stableMs: 1000 },
} as unknown as PlanService;
const plan = { app: "shop", services: [web, worker], tests: [], volumes: [] } as Plan;

function replica(id: string, service: string, extra: Partial<Replica> = {}): Replica {
  return {
    id,
    name: id,
    app: "shop",
    service,
    release: 1,
    replica: 1,
    state: "running",
    createdAt: 0,
    hostPort: port,
    ...extra,
  };
}

describe("HttpHealthWatch", () => {
  it("reports a replica only after `retries` failed checks in a row, and forgets it on success", async () => {
    const watch = new HttpHealthWatch();
    const replicas = [replica("a", "web")];
    status = 500;
    expect(await watch.unhealthy(plan, replicas)).toEqual(new Set());
    status = 200;
    expect(await watch.unhealthy(plan, replicas)).toEqual(new Set());
    status = 500;
    expect(await watch.unhealthy(plan, replicas)).toEqual(new Set());
    expect(await watch.unhealthy(plan, replicas)).toEqual(new Set(["a"]));
  });

  it("leaves alone replicas not checked over HTTP, not running, or without a published port", async () => {
    const watch = new HttpHealthWatch();
    status = 500;
    const replicas = [
      replica("w", "worker"),
      replica("x", "web", { state: "exited" }),
      replica("y", "web", { hostPort: undefined as unknown as number }),
    ];
    for (let i = 0; i < 3; i++) expect(await watch.unhealthy(plan, replicas)).toEqual(new Set());
  });
});
