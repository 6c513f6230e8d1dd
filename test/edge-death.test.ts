import { mkdtempSync, rmSync } from "node:fs";
import * as http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { backendName } from "../src/edge/domain-map.js";
import type { EdgeAppState } from "../src/edge/edge-state.js";
import { managedEdgeSpec } from "../src/edge/managed-edge.js";
import { parseShowProc } from "../src/edge/runtime-state.js";
import { isProcessRunning } from "../src/process-table.js";
import { runningPid, stopProcess } from "../src/runtime/managed-process.js";
import { DataPlaneSupervisor } from "../src/runtime/supervisor.js";
import { openDatabase } from "../src/state/database.js";
import { Store } from "../src/state/store.js";
import { freePort, waitFor } from "./support/skiff-harness.js";

const HAPROXY = "/usr/sbin/haproxy";

/** A replica: answers every request with its name. */
async function startReplica(name: string) {
  const port = await freePort();
  const server = http.createServer((_request, response) => response.end(`${name}\n`));
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    name,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
type Replica = Awaited<ReturnType<typeof startReplica>>;

/** One GET through the edge with a Host header, on a connection of its own. */
function get(port: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(
      { host: "127.0.0.1", port, path: "/", agent: false, headers: { host }, timeout: 3000 },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => (body += chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body: body.trim() }));
      },
    );
    request.on("timeout", () => request.destroy(new Error("timed out")));
    request.on("error", reject);
  });
}

function appState(app: string, replicas: Replica[], domain: string): EdgeAppState {
  const backend = backendName(app, "web");
  return {
    backends: [
      {
        name: backend,
        healthPath: "/healthz",
        healthHost: domain,
        servers: replicas.map((r) => ({
          name: r.name,
          address: { host: "127.0.0.1", port: r.port },
          checked: true,
        })),
      },
    ],
    domains: { [domain]: backend },
  };
}

/**
 * The edge as `skiff server` runs it: HAProxy started by the data-plane
 * supervisor from managedEdgeSpec, the same router writing its files. A
 * kill -9 of HAProxy's worker (or of its master) must leave it serving the
 * same routes again, servers added at runtime included, without anyone
 * deploying anything.
 */
describe("the supervised edge after HAProxy dies, against a real HAProxy 2.6", () => {
  let home: string;
  let edgePort: number;
  let edge: ReturnType<typeof managedEdgeSpec>;
  let supervisor: DataPlaneSupervisor;
  const replicas: Replica[] = [];
  const quiet = { info() {}, warn() {}, error() {} };

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "skiff-edge-death-"));
    edgePort = await freePort();
    const config = loadConfig({
      SKIFF_HOME: home,
      SKIFF_EDGE_PORT: String(edgePort),
      SKIFF_EDGE_STATS_PORT: String(await freePort()),
    });
    edge = managedEdgeSpec(config);
    supervisor = new DataPlaneSupervisor({
      processes: [edge],
      store: new Store(openDatabase(":memory:")),
      logger: quiet,
    });
    for (const name of ["r1-1", "r2-1", "r1-2"]) replicas.push(await startReplica(name));
    await supervisor.ensureAll();
    supervisor.start();
    const [shop1, shop2, blog1] = replicas as [Replica, Replica, Replica];
    // shop's backend and blog's come with reloads; shop's second server is
    // added through the runtime API, so only the rendered file can bring it back.
    await edge.router.setApp("shop", appState("shop", [shop1], "shop.localhost"));
    await edge.router.setApp("blog", appState("blog", [blog1], "blog.localhost"));
    const { reloaded } = await edge.router.setApp(
      "shop",
      appState("shop", [shop1, shop2], "shop.localhost"),
    );
    expect(reloaded).toBe(false);
  }, 60_000);

  afterAll(async () => {
    await supervisor?.stop();
    if (edge) await stopProcess(edge, { graceMs: 5000 });
    await Promise.all(replicas.map((r) => r.close()));
    rmSync(home, { recursive: true, force: true });
  });

  async function processes() {
    return parseShowProc(await edge.router.master.command("show proc"));
  }

  /** Every route the edge had before it died, served as before. */
  async function expectSameRoutes(): Promise<void> {
    const shop = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const answer = await get(edgePort, "shop.localhost");
      expect(answer.status).toBe(200);
      shop.add(answer.body);
    }
    expect([...shop].sort()).toEqual(["r1-1", "r2-1"]);
    expect(await get(edgePort, "blog.localhost")).toEqual({ status: 200, body: "r1-2" });
    expect((await get(edgePort, "nothing.localhost")).status).toBe(404);
    expect([...(await edge.router.serverStatus("app_shop__web")).keys()]).toEqual(["r1-1", "r2-1"]);
    // Nothing for the router to redo: the restarted HAProxy matches the desired state.
    expect(await edge.router.resync()).toEqual({ reloaded: false });
  }

  /** kill -9 of `pid`, then the wait until the edge answers shop.localhost again. */
  async function killAndWait(pid: number): Promise<void> {
    const master = runningPid(edge) as number;
    process.kill(pid, "SIGKILL");
    await waitFor("the killed HAProxy process to be gone", () => !isProcessRunning(pid, HAPROXY));
    await waitFor(
      "the edge to serve shop.localhost again",
      async () =>
        (await get(edgePort, "shop.localhost").catch(() => ({ status: 0 }))).status === 200,
      10_000,
    );
    // A new HAProxy (master and worker) answers, started by the supervisor,
    // which counts it as running once it has stayed up a moment.
    await waitFor("the supervisor to count the edge running", () => {
      return supervisor.states()[0]?.state === "running";
    });
    expect(runningPid(edge)).not.toBe(master);
    expect((await processes()).workers).toHaveLength(1);
  }

  it("serves the same routes again after kill -9 of HAProxy's worker", async () => {
    await expectSameRoutes();
    const [worker] = (await processes()).workers;
    expect(worker).toBeDefined();
    await killAndWait(worker as number);
    await expectSameRoutes();
    expect(supervisor.states()[0]).toMatchObject({ name: "edge", state: "running", restarts: 1 });
  }, 60_000);

  it("serves the same routes again after kill -9 of HAProxy's master", async () => {
    await killAndWait(runningPid(edge) as number);
    await expectSameRoutes();
    expect(supervisor.states()[0]).toMatchObject({ state: "running", restarts: 2 });
  }, 60_000);
});
