import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import * as http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backendName } from "../src/edge/domain-map.js";
import type { EdgeAppState } from "../src/edge/edge-router.js";
import { EdgeRouter } from "../src/edge/edge-router.js";
import { EdgeRuntimeApi } from "../src/edge/runtime-api.js";
import { parseShowProc } from "../src/edge/runtime-state.js";
import { freePort, waitFor } from "./support/skiff-harness.js";

const HAPROXY = "/usr/sbin/haproxy";

/** A runtime API client that remembers every command it sent. */
class RecordingRuntime extends EdgeRuntimeApi {
  readonly sent: string[] = [];
  override execute(command: string): Promise<string> {
    this.sent.push(command);
    return super.execute(command);
  }
  /** Commands that change something, since `mark`. */
  changesSince(mark: number): string[] {
    return this.sent.slice(mark).filter((c) => !c.startsWith("show "));
  }
}

/**
 * A replica: a node:http server on 127.0.0.1 that answers with its name.
 * `crash` makes it drop requests without an answer (a process dying
 * mid-request) while its health check still passes (the check that would
 * notice has not run yet); close() makes it refuse connections (gone).
 */
interface Replica {
  name: string;
  port: number;
  seen: { GET: number; POST: number };
  crash: boolean;
  /** Requests dropped while crashing. */
  dropped: number;
  close(): Promise<void>;
}

async function startReplica(name: string): Promise<Replica> {
  const port = await freePort();
  const replica: Replica = {
    name,
    port,
    seen: { GET: 0, POST: 0 },
    crash: false,
    dropped: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const server = http.createServer((request, response) => {
    if (replica.crash && request.url !== "/healthz") {
      replica.dropped++;
      request.socket.destroy();
      return;
    }
    if (request.method === "GET" || request.method === "POST") replica.seen[request.method]++;
    request.resume();
    // "/slow" stands for a long request still in flight when the replica is removed.
    const delay = request.url === "/slow" ? 3000 : 0;
    request.on("end", () => setTimeout(() => response.end(`${name}\n`), delay));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return replica;
}

interface LoadResult {
  requests: number;
  errors: string[];
  statuses: Record<number, number>;
  /** Requests answered by each replica, from the body. */
  answeredBy: Record<string, number>;
}

/**
 * Steady keep-alive GETs through the edge from a few clients, each pausing a
 * little between requests; bounded in count and time. No client retries: an
 * error here is an error a user would see.
 */
function startLoad(port: number, host: string, bounds = { requests: 4000, ms: 20_000 }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const result: LoadResult = { requests: 0, errors: [], statuses: {}, answeredBy: {} };
  let stopped = false;
  const deadline = Date.now() + bounds.ms;
  const one = () =>
    new Promise<void>((resolve) => {
      const request = http.get(
        { host: "127.0.0.1", port, path: "/", agent, headers: { host }, timeout: 5000 },
        (response) => {
          let body = "";
          response.setEncoding("utf8");
          response.on("data", (chunk) => (body += chunk));
          response.on("end", () => {
            const status = response.statusCode ?? 0;
            result.statuses[status] = (result.statuses[status] ?? 0) + 1;
            const by = body.trim();
            result.answeredBy[by] = (result.answeredBy[by] ?? 0) + 1;
            resolve();
          });
          response.on("error", (error) => {
            result.errors.push(error.message);
            resolve();
          });
        },
      );
      request.on("timeout", () => request.destroy(new Error("timed out")));
      request.on("error", (error) => {
        result.errors.push(`${(error as NodeJS.ErrnoException).code ?? ""} ${error.message}`);
        resolve();
      });
    });
  const client = async () => {
    while (!stopped && result.requests < bounds.requests && Date.now() < deadline) {
      result.requests++;
      await one();
      await sleep(15);
    }
  };
  const clients = Promise.all([client(), client(), client(), client()]);
  return {
    result,
    async stop(): Promise<LoadResult> {
      stopped = true;
      await clients;
      agent.destroy();
      return result;
    },
  };
}

/** One request through the edge with a Host header, on a connection of its own. */
function get(
  port: number,
  host: string,
  method = "GET",
  path = "/",
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: "127.0.0.1", port, path, method, agent: false, headers: { host }, timeout: 5000 },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => (body += chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body: body.trim() }));
      },
    );
    request.on("timeout", () => request.destroy(new Error("timed out")));
    request.on("error", reject);
    request.end(method === "POST" ? "x" : undefined);
  });
}

/** One app's web backend; `checked` marks the replicas as Skiff's own health check passed them (a deploy does). */
function webState(
  app: string,
  replicas: Replica[],
  domain: string,
  { checked = false } = {},
): EdgeAppState {
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
          ...(checked ? { checked } : {}),
        })),
      },
    ],
    domains: { [domain]: backend },
  };
}

describe("EdgeRouter against a real HAProxy 2.6", () => {
  let dir: string;
  let edgePort: number;
  let runtime: RecordingRuntime;
  let router: EdgeRouter;
  let haproxy: ChildProcess | undefined;
  const replicas: Replica[] = [];
  const log: string[] = [];

  async function startHaproxy(): Promise<void> {
    const output = openSync(join(dir, "haproxy.log"), "a");
    const child = spawn(
      HAPROXY,
      ["-W", "-S", join(dir, "master.sock"), "-f", join(dir, "haproxy.cfg")],
      { stdio: ["ignore", output, output] },
    );
    closeSync(output);
    haproxy = child;
    await waitFor("HAProxy to answer on its runtime socket", async () => {
      if (child.exitCode !== null) {
        throw new Error(`HAProxy exited:\n${readFileSync(join(dir, "haproxy.log"), "utf8")}`);
      }
      return runtime.info().then(
        (info) => info.Pid !== undefined,
        () => false,
      );
    });
  }

  async function processes() {
    return parseShowProc(await router.master.command("show proc"));
  }

  /** Stops HAProxy: master and workers, by pid. */
  async function killHaproxy(signal: NodeJS.Signals): Promise<void> {
    const child = haproxy;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    const { workers, oldWorkers } = await processes().catch(() => ({
      workers: [],
      oldWorkers: [],
    }));
    process.kill(child.pid, signal);
    await waitFor(
      "HAProxy's master to exit",
      () => child.exitCode !== null || child.signalCode !== null,
      10_000,
    );
    for (const pid of [...workers, ...oldWorkers]) {
      await waitFor(`HAProxy worker ${pid} to exit`, () => !alive(pid), 10_000).catch(() => {
        process.kill(pid, "SIGKILL");
      });
    }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "skiff-edge-router-"));
    edgePort = await freePort();
    runtime = new RecordingRuntime(join(dir, "haproxy.sock"));
    router = new EdgeRouter({
      configFile: join(dir, "haproxy.cfg"),
      domainMapFile: join(dir, "domains.map"),
      notFoundPageFile: join(dir, "not-found.html"),
      stateFile: join(dir, "desired-state.json"),
      runtimeSocket: join(dir, "haproxy.sock"),
      masterSocket: join(dir, "master.sock"),
      httpPort: edgePort,
      statsPort: await freePort(),
      runtime,
      timeouts: { upMs: 6000 },
      log: (line) => log.push(line),
    });
    for (const name of ["r1-1", "r2-1", "r2-2"]) replicas.push(await startReplica(name));
    // As the supervisor does before a start: render the (empty) desired state.
    router.writeFiles();
    await startHaproxy();
  });

  afterAll(async () => {
    await killHaproxy("SIGTERM");
    await Promise.all(replicas.map((r) => r.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  const replica = (i: number) => () => replicas[i] as Replica;
  const [r1, r2a, r2b] = [replica(0), replica(1), replica(2)];

  it("routes by Host to a new app's backend and 404s unknown hosts", async () => {
    const { reloaded } = await router.setApp("shop", webState("shop", [r1()], "shop.localhost"));
    expect(reloaded).toBe(true); // a new backend: the one kind of change that needs a reload

    expect(await get(edgePort, "shop.localhost")).toEqual({ status: 200, body: "r1-1" });
    expect(await get(edgePort, "SHOP.localhost:8080")).toEqual({ status: 200, body: "r1-1" });
    expect((await get(edgePort, "nothing.localhost")).status).toBe(404);
    expect(readFileSync(join(dir, "domains.map"), "utf8")).toBe("shop.localhost app_shop__web\n");
    expect(readFileSync(join(dir, "haproxy.cfg"), "utf8")).toBe(router.render());

    // The reconciler sets every app's state on every pass: the same state
    // again asks HAProxy nothing and leaves the state file alone.
    const mark = runtime.sent.length;
    const stateFile = join(dir, "desired-state.json");
    const written = statSync(stateFile).mtimeMs;
    await sleep(20);
    expect(await router.setApp("shop", webState("shop", [r1()], "shop.localhost"))).toEqual({
      reloaded: false,
    });
    expect(runtime.sent.slice(mark)).toEqual([]);
    expect(statSync(stateFile).mtimeMs).toBe(written);
  }, 30_000);

  it("adds a replica Skiff checked at once and removes one under load, with no error and no reload", async () => {
    const before = await processes();
    const load = startLoad(edgePort, "shop.localhost");
    // In flight on r1-1 (the only server yet) until after r1-1's removal begins.
    const slow = get(edgePort, "shop.localhost", "GET", "/slow");
    await sleep(500);

    const mark = runtime.sent.length;
    const admitted: string[][] = [];
    const added = await router.setApp(
      "shop",
      webState("shop", [r1(), r2a()], "shop.localhost", { checked: true }),
      { onAdmitted: (_backend, servers) => admitted.push(servers) },
    );
    expect(admitted).toEqual([["r2-1"]]);
    // Admitted without waiting for HAProxy's check: no status poll between
    // creating it and giving it weight, its check state forced up.
    const sent = runtime.sent.slice(mark);
    const enabled = sent.indexOf("enable server app_shop__web/r2-1");
    const weighted = sent.indexOf("set server app_shop__web/r2-1 weight 1");
    expect(enabled).toBeGreaterThanOrEqual(0);
    expect(sent.slice(enabled + 1, weighted)).toEqual(["set server app_shop__web/r2-1 health up"]);
    const status = await router.serverStatus("app_shop__web");
    expect(status.get("r2-1")).toMatchObject({ admin: "ready", weight: 1 });
    // HAProxy's own checks go on: its first one passes soon after.
    await waitFor("HAProxy's first check of r2-1 to pass", async () =>
      Boolean((await router.serverStatus("app_shop__web")).get("r2-1")?.up),
    );
    await sleep(500);
    const removal = router.setApp(
      "shop",
      webState("shop", [r2a()], "shop.localhost", { checked: true }),
    );
    // The drain waits for the slow request; the removal ends after it.
    const first = await Promise.race([slow.then(() => "slow"), removal.then(() => "removal")]);
    const removed = await removal;
    await sleep(500);
    const result = await load.stop();

    expect(first).toBe("slow");
    expect(await slow).toEqual({ status: 200, body: "r1-1" });
    expect(added.reloaded).toBe(false);
    expect(removed.reloaded).toBe(false);
    expect(result.errors).toEqual([]);
    expect(Object.keys(result.statuses)).toEqual(["200"]);
    expect(result.requests).toBeGreaterThan(100);
    expect(result.answeredBy["r1-1"]).toBeGreaterThan(0);
    expect(result.answeredBy["r2-1"]).toBeGreaterThan(0);
    const after = await processes();
    expect(after.workers).toEqual(before.workers);
    expect(after.reloads).toBe(before.reloads);
    expect([...(await router.serverStatus("app_shop__web")).keys()]).toEqual(["r2-1"]);
    // The file already holds the runtime change, so a reload would keep it.
    expect(readFileSync(join(dir, "haproxy.cfg"), "utf8")).toContain(
      `server r2-1 127.0.0.1:${r2a().port} check`,
    );
    expect(readFileSync(join(dir, "haproxy.cfg"), "utf8")).not.toContain("server r1-1 ");
  }, 60_000);

  it("adds a backend with one hitless reload", async () => {
    const before = await processes();
    const load = startLoad(edgePort, "shop.localhost");
    await sleep(500);

    const { reloaded } = await router.setApp("blog", webState("blog", [r1()], "blog.localhost"));
    await sleep(1000);
    const result = await load.stop();

    expect(reloaded).toBe(true);
    expect(result.errors).toEqual([]);
    expect(Object.keys(result.statuses)).toEqual(["200"]);
    expect(result.requests).toBeGreaterThan(50);
    const after = await processes();
    expect(after.reloads).toBe(before.reloads + 1);
    expect(after.failedReloads).toBe(before.failedReloads);
    expect(after.workers).not.toEqual(before.workers);
    expect(await get(edgePort, "blog.localhost")).toEqual({ status: 200, body: "r1-1" });
    expect(await get(edgePort, "shop.localhost")).toEqual({ status: 200, body: "r2-1" });
    expect(log.filter((l) => l.includes("reloaded"))).toHaveLength(2); // shop's backend, then blog's
  }, 60_000);

  it("comes back whole when HAProxy is killed and started again from the rendered file", async () => {
    await router.setApp("shop", webState("shop", [r2a(), r2b()], "shop.localhost"));
    const file = readFileSync(join(dir, "haproxy.cfg"), "utf8");
    expect(file).toBe(router.render());

    await killHaproxy("SIGKILL");
    await startHaproxy();

    expect([...(await router.serverStatus("app_shop__web")).keys()]).toEqual(["r2-1", "r2-2"]);
    expect([...(await router.serverStatus("app_blog__web")).keys()]).toEqual(["r1-1"]);
    const bodies = new Set<string>();
    for (let i = 0; i < 6; i++) bodies.add((await get(edgePort, "shop.localhost")).body);
    expect([...bodies].sort()).toEqual(["r2-1", "r2-2"]);
    expect(await get(edgePort, "blog.localhost")).toEqual({ status: 200, body: "r1-1" });

    const mark = runtime.sent.length;
    expect(await router.resync()).toEqual({ reloaded: false });
    expect(await router.resync()).toEqual({ reloaded: false });
    expect(runtime.changesSince(mark)).toEqual([]);
    expect(readFileSync(join(dir, "haproxy.cfg"), "utf8")).toBe(file);
  }, 60_000);

  it("retries idempotent requests on another replica when one dies between checks, but never replays a POST", async () => {
    await router.waitUntilUp("app_shop__web", ["r2-1", "r2-2"], 10_000);

    // Gone: connections refused. Retried on the other replica (conn-failure).
    await r2b().close();
    const refused = [];
    for (let i = 0; i < 10; i++) refused.push(await get(edgePort, "shop.localhost"));
    expect(refused.every((r) => r.status === 200 && r.body === "r2-1")).toBe(true);

    // Dies mid-request: the connection drops with no answer (empty-response).
    r2a().crash = true;
    const spare = await startReplica("r3-1");
    replicas.push(spare);
    await router.setApp("shop", webState("shop", [r2a(), spare], "shop.localhost"));
    await router.waitUntilUp("app_shop__web", ["r3-1"], 10_000);
    const status = await router.serverStatus("app_shop__web");
    expect(status.get("r2-1")?.up).toBe(true); // still up: its next check has not run yet

    const gets = await Promise.all(
      Array.from({ length: 8 }, () => get(edgePort, "shop.localhost")),
    );
    expect(gets.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(r2a().dropped).toBeGreaterThan(0); // round robin did send GETs to the crashing one
    const posts = await Promise.all(
      Array.from({ length: 8 }, () => get(edgePort, "shop.localhost", "POST")),
    );
    // A POST that reached the crashing replica fails rather than run twice.
    expect(spare.seen.POST).toBe(posts.filter((p) => p.status === 200).length);
    expect(posts.filter((p) => p.status === 502).length).toBeGreaterThan(0);
    r2a().crash = false;
  }, 60_000);

  it("keeps a backend's servers when a new one Skiff did not check never passes HAProxy's check, and says why", async () => {
    const dead = await freePort();
    // The new server alone: were it admitted, blog's r1-1 would be drained and removed for it.
    const broken = webState("blog", [], "blog.localhost");
    broken.backends[0]?.servers.push({ name: "r5-1", address: { host: "127.0.0.1", port: dead } });
    const error = await router.setApp("blog", broken).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(
      /did not pass within 6 s for app_blog__web\/r5-1: last check L4CON .*Connection refused/,
    );
    // Added at weight 0, so it took no request while its check failed; r1-1 still serves.
    const status = await router.serverStatus("app_blog__web");
    expect(status.get("r5-1")).toMatchObject({ up: false, weight: 0 });
    expect(status.get("r1-1")).toMatchObject({ up: true, admin: "ready", weight: 1 });
    expect(await get(edgePort, "blog.localhost")).toEqual({ status: 200, body: "r1-1" });

    // After a failed apply the same state is applied again, not taken as done.
    const mark = runtime.sent.length;
    const again = await router.setApp("blog", broken).catch((e: Error) => e);
    expect((again as Error).message).toMatch(/did not pass within 6 s for app_blog__web\/r5-1/);
    expect(runtime.sent.length).toBeGreaterThan(mark);

    // The deploy's rollback: the previous state again.
    await router.setApp("blog", webState("blog", [r1()], "blog.localhost"));
    expect([...(await router.serverStatus("app_blog__web")).keys()]).toEqual(["r1-1"]);
  }, 30_000);

  it("takes a server Skiff checked out by HAProxy's own checks when it stops answering, with no request failing", async () => {
    const dead = await freePort(); // Skiff's check passed, then the replica died
    const load = startLoad(edgePort, "blog.localhost", { requests: 2000, ms: 10_000 });
    await sleep(300);
    const state = webState("blog", [r1()], "blog.localhost", { checked: true });
    state.backends[0]?.servers.push({
      name: "r5-1",
      address: { host: "127.0.0.1", port: dead },
      checked: true,
    });
    expect(await router.setApp("blog", state)).toEqual({ reloaded: false });
    // Admitted at once: it is in the rotation...
    expect((await router.serverStatus("app_blog__web")).get("r5-1")).toMatchObject({
      admin: "ready",
      weight: 1,
    });
    // ...until HAProxy's checks (fall 2) take it out.
    await waitFor(
      "HAProxy to mark r5-1 down",
      async () => {
        const server = (await router.serverStatus("app_blog__web")).get("r5-1");
        return server?.up === false && /L4CON/.test(server.check);
      },
      5000,
    );
    await sleep(300);
    const result = await load.stop();
    // Requests round robin sent to it failed to connect and were retried on r1-1.
    expect(result.errors).toEqual([]);
    expect(result.statuses).toEqual({ 200: result.requests });
    expect(result.answeredBy).toEqual({ "r1-1": result.requests });

    await router.setApp("blog", webState("blog", [r1()], "blog.localhost"));
    expect([...(await router.serverStatus("app_blog__web")).keys()]).toEqual(["r1-1"]);
  }, 30_000);

  it("serialises applies that several apps start at once, and refuses a domain another app holds", async () => {
    const before = await processes();
    const [api, docs, resynced] = await Promise.all([
      router.setApp("api", webState("api", [r2a()], "api.localhost")),
      router.setApp("docs", webState("docs", [r1()], "docs.localhost")),
      router.resync(),
    ]);
    expect([api.reloaded, docs.reloaded, resynced.reloaded]).toEqual([true, true, false]);
    expect((await processes()).reloads).toBe(before.reloads + 2);
    expect(await get(edgePort, "api.localhost")).toMatchObject({ status: 200 });
    expect(await get(edgePort, "docs.localhost")).toEqual({ status: 200, body: "r1-1" });

    const stateFile = readFileSync(join(dir, "desired-state.json"), "utf8");
    const taken = webState("docs", [r1()], "docs.localhost");
    taken.domains["api.localhost"] = backendName("docs", "web");
    await expect(router.setApp("docs", taken)).rejects.toThrow(
      "the domain api.localhost is already routed to app api, so app docs cannot have it",
    );
    expect(readFileSync(join(dir, "desired-state.json"), "utf8")).toBe(stateFile);
    await router.removeApp("api");
  }, 60_000);

  it("takes an app off the edge: its requests in flight finish before the reload drops its backend", async () => {
    const slow = get(edgePort, "docs.localhost", "GET", "/slow");
    await sleep(300);
    const removal = router.removeApp("docs");
    const first = await Promise.race([slow.then(() => "slow"), removal.then(() => "removal")]);
    await removal;

    expect(first).toBe("slow");
    expect(await slow).toEqual({ status: 200, body: "r1-1" });
    expect(router.apps()).toEqual(["blog", "shop"]);
    expect((await get(edgePort, "docs.localhost")).status).toBe(404);
    expect(readFileSync(join(dir, "domains.map"), "utf8")).toBe(
      "blog.localhost app_blog__web\nshop.localhost app_shop__web\n",
    );
    expect(readFileSync(join(dir, "haproxy.cfg"), "utf8")).not.toContain("app_docs__web");
  }, 30_000);

  it("tells the app the client's address, scheme and Host, whatever X-Forwarded-* the client forged", async () => {
    // The app: echoes every X-Forwarded-* header it received, each with all its occurrences.
    const echo = http.createServer((request, response) => {
      const forwarded = Object.entries(request.headersDistinct).filter(([name]) =>
        name.startsWith("x-forwarded-"),
      );
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify(Object.fromEntries(forwarded)));
    });
    const echoPort = await freePort();
    await new Promise<void>((resolve) => echo.listen(echoPort, "127.0.0.1", resolve));
    const backend = backendName("echo", "web");
    try {
      await router.setApp("echo", {
        backends: [
          {
            name: backend,
            healthPath: "/healthz",
            healthHost: "echo.localhost",
            servers: [{ name: "r1-1", address: { host: "127.0.0.1", port: echoPort } }],
          },
        ],
        domains: { "echo.localhost": backend },
      });
      // From 127.0.0.2, so the address the app sees is the client's, not a constant.
      const seen = await new Promise<unknown>((resolve, reject) => {
        const request = http.request(
          {
            host: "127.0.0.1",
            port: edgePort,
            localAddress: "127.0.0.2",
            path: "/",
            agent: false,
            timeout: 5000,
            headers: {
              host: "Echo.localhost:8080",
              "x-forwarded-for": ["6.6.6.6", "7.7.7.7"],
              "x-forwarded-proto": "https",
              "x-forwarded-host": "bank.example",
            },
          },
          (response) => {
            let body = "";
            response.setEncoding("utf8");
            response.on("data", (chunk) => (body += chunk));
            response.on("end", () => resolve(JSON.parse(body)));
          },
        );
        request.on("timeout", () => request.destroy(new Error("timed out")));
        request.on("error", reject);
        request.end();
      });
      expect(seen).toEqual({
        "x-forwarded-for": ["127.0.0.2"],
        "x-forwarded-proto": ["http"],
        "x-forwarded-host": ["Echo.localhost:8080"],
      });
    } finally {
      await router.removeApp("echo");
      echo.closeAllConnections();
      await new Promise((resolve) => echo.close(resolve));
    }
  }, 30_000);
});

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}
