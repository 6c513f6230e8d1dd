import { createServer, type Server } from "node:http";
import { type AddressInfo, createServer as createTcpServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Plan, PlanService } from "../spec/index.js";
import type { Replica } from "./engine.js";
import { httpUnhealthy } from "./http-health-watch.js";

let server: Server;
let port: number;
/** The statuses the next requests get, in order; 200 once used up. */
let statuses: number[] = [];

beforeAll(async () => {
  server = createServer((_req, res) => {
    res.statusCode = statuses.shift() ?? 200;
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
    intervalMs: 10,
    retries: 3,
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
    onAppNetwork: true,
    address: { host: "127.0.0.1", port },
    ...extra,
  };
}

describe("httpUnhealthy", () => {
  it.each([
    ["answers at once", [], new Set()],
    ["fails twice, then answers: not unhealthy", [500, 503], new Set()],
    ["fails `retries` times in a row: unhealthy", [500, 500, 500], new Set(["a"])],
  ])("a replica that %s", async (_what, next, expected) => {
    statuses = [...next];
    expect(await httpUnhealthy(plan, [replica("a", "web")])).toEqual(expected);
  });

  it("leaves alone replicas not checked over HTTP, not running, or without a published port", async () => {
    statuses = Array(20).fill(500);
    const replicas = [
      replica("w", "worker"),
      replica("x", "web", { state: "exited" }),
      replica("y", "web", { address: undefined }),
    ];
    expect(await httpUnhealthy(plan, replicas)).toEqual(new Set());
    expect(statuses).toHaveLength(20);
  });

  it("does not replace a replica whose server ends header lines in LF only, as HAProxy serves it", async () => {
    // busybox httpd's CGI answers look like this; Node's default parser refuses them.
    const raw = createTcpServer((socket) =>
      socket.once("data", () => socket.end("HTTP/1.1 200 OK\r\nContent-Type: text/plain\n\nok\n")),
    );
    await new Promise<void>((resolve) => raw.listen(0, "127.0.0.1", resolve));
    try {
      const hostPort = (raw.address() as AddressInfo).port;
      expect(
        await httpUnhealthy(plan, [
          replica("a", "web", { address: { host: "127.0.0.1", port: hostPort } }),
        ]),
      ).toEqual(new Set());
    } finally {
      await new Promise((resolve) => raw.close(resolve));
    }
  });
});
