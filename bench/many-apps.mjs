#!/usr/bin/env node
// bench/many-apps: what 50 small apps on one host cost the control plane.
//
//   node bench/many-apps.mjs [--apps N] [--replicas N] [--steady S] [--requests N]
//                            [--concurrency N] [--edge-changes N] [--profile] [--docker-pools]
//                            [--json]
//
// Runs a Skiff installation of its own (bench/lib/platform.mjs
// sandboxServer: `skiff server` in a temporary SKIFF_HOME, with its own
// registry and HAProxy on free 127.0.0.1 ports) against the host's Docker
// Engine. Each app has one web service, `web`, with --replicas (2)
// replicas of the busybox test image (an `image:` service, no build;
// `httpd` serving /ok.txt, 16 MB limit, health GET /ok.txt every 250 ms),
// routed by the edge at APP.localhost. The apps are deployed one after the
// other with `skiff deploy DIR --app APP`. Each app's network is created by
// the bench first, exactly as Skiff would create it (toNetworkCreateOptions,
// which Skiff then finds and uses) but with a /24 of 10.213.0.0/16: Docker's
// default address pools hold about 31 bridge networks (15 /16s of
// 172.17-31 and 16 /20s of 192.168.0.0/16), and Skiff gives every app its
// own, so without `default-address-pools` in daemon.json the ~30th app's
// deploy fails ("could not find an available, non-overlapping IPv4 address
// pool"). --docker-pools leaves it to Docker, to see that. Then:
// - RSS: VmRSS of the `skiff server` process (/proc/PID/status) when it has
//   started, after every app is deployed, and after --steady (60) s of
//   steady state (sampled every 5 s in between).
// - Reconcile pass: `reconciler.durationMs` of GET /api/v1/status, polled
//   every second through the steady state; each pass once (by finishedAt).
// - API latency: --requests (500) GET /api/v1/apps and as many GET
//   /api/v1/apps/APP/ps (APP going round the apps), one at a time and then
//   --concurrency (4) at a time, keep-alive, with the admin token as a
//   bearer token, as bin/skiff sends it (src/cli/api-client.ts); the time
//   to the answer's last byte. Bounded: each set stops after 120 s.
// - Edge change, measured where the control plane reports it:
//   restart (POST /api/v1/apps/APP/restart, `skiff restart`): a rollout of
//   new replicas whose progress lines arrive as they are written; the edge
//   change is from the last "replica K of rN healthy" line to "edge: N new
//   replica(s) in the rotation" (admitted) and to "edge: N old replica(s)
//   drained and out" (the whole switch: add, admit, drain, delete; no
//   reload, the backend exists). Also scale (POST .../scale, `skiff scale
//   APP web=3`, then web=2): from "started replica 3" to the end of the
//   answer (one server added), and from the request to "removing 1
//   container(s)" (list, HTTP checks of the replicas, one server drained and
//   deleted).
// - Edge reload: the first deploy of an app adds a backend, which takes a
//   reload; from the deploy's run events, last replica healthy → "edge: N
//   new replica(s) in the rotation" (the whole apply: render, validate,
//   reload, wait for the new worker), for every app as the edge grows, and
//   once more for one app deployed after the steady state.
// - Where the time goes: the same operations the pass and the edge make,
//   timed from here against the same Docker Engine and HAProxy (listing an
//   app's containers, an HTTP check of a replica, the runtime API reads of
//   an apply, rendering the config from the edge's desired state,
//   `haproxy -c` of the config, a reload through the master CLI).
// - --profile: the server is restarted with --cpu-prof, runs another
//   steady state and API load, is restarted again to write the profile, and
//   the functions with the most CPU time are listed.
// Everything made is removed at the end, also on failure or Ctrl-C: the
// sandbox's containers, networks and volumes (by its instance label), its
// images (by its registry's address), its registry and edge processes (by
// pid), its home, and the busybox image if the bench imported it.

import { execFile } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { Agent, request } from "node:http";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { percentile } from "./lib/load.mjs";
import {
  api,
  BUSYBOX_IMAGE,
  benchArgs,
  cpuBusy,
  dockerClient,
  ensureBusyboxImage,
  haproxy,
  machineLine,
  machineTicks,
  median,
  onInterrupt,
  percent,
  processRss,
  processTicks,
  progress,
  runJsonBench,
  runTimeline,
  sandboxServer,
  seconds,
  TICKS_PER_SECOND,
  tail,
} from "./lib/platform.mjs";

const TARGETS = { rssBytes: 150 * 1024 * 1024, passMs: 100, apiP99Ms: 50, edgeMs: 50 };
const MEMORY_LIMIT = "16M";
const API_SET_SECONDS = 120;

const { options, usage } = benchArgs(
  "node bench/many-apps.mjs [--apps N] [--replicas N] [--steady S] [--requests N] [--concurrency N] [--edge-changes N] [--profile] [--docker-pools] [--json] [--from-json FILE] [--write]",
  {
    apps: { type: "string", default: "50" },
    replicas: { type: "string", default: "2" },
    steady: { type: "string", default: "60" },
    requests: { type: "string", default: "500" },
    concurrency: { type: "string", default: "4" },
    "edge-changes": { type: "string", default: "5" },
    profile: { type: "boolean", default: false },
    "docker-pools": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    "from-json": { type: "string" },
  },
);
const appCount = Number(options.apps);
const replicas = Number(options.replicas);
const steadySeconds = Number(options.steady);
const requests = Number(options.requests);
const concurrency = Number(options.concurrency);
const edgeChanges = Number(options["edge-changes"]);
if (!Number.isInteger(appCount) || appCount < 1 || appCount > 200) usage("--apps takes 1 to 200");
if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) usage("--replicas takes 1 to 5");
if (!Number.isInteger(steadySeconds) || steadySeconds < 10 || steadySeconds > 600)
  usage("--steady takes 10 to 600 seconds");
if (!Number.isInteger(requests) || requests < 10 || requests > 5000)
  usage("--requests takes 10 to 5000");
if (!Number.isInteger(concurrency) || concurrency < 2 || concurrency > 32)
  usage("--concurrency takes 2 to 32");
if (!Number.isInteger(edgeChanges) || edgeChanges < 1 || edgeChanges > Math.min(20, appCount))
  usage("--edge-changes takes 1 to 20 (and at most --apps)");

const interrupt = onInterrupt();
for (const signal of ["SIGTERM", "SIGHUP"]) process.on(signal, () => process.emit("SIGINT"));
const docker = dockerClient();
const suffix = Math.random().toString(16).slice(2, 6);
const appName = (i) => `ma${String(i).padStart(String(appCount + 1).length, "0")}-${suffix}`;

function composeFile(rev) {
  return [
    "services:",
    "  web:",
    `    image: ${BUSYBOX_IMAGE}`,
    `    command: ["sh", "-c", "trap 'exit 0' TERM; echo ok $$REV > /ok.txt; httpd -f -p 8080 -h / & wait"]`,
    `    environment: { REV: "${rev}" }`,
    `    deploy: { replicas: ${replicas}, resources: { limits: { memory: ${MEMORY_LIMIT} } } }`,
    "    x-skiff: { port: 8080, health: { path: /ok.txt, interval: 250ms } }",
    "",
  ].join("\n");
}

/**
 * The app's network as Skiff creates it (src/deploy/docker/container-spec.ts),
 * with the subnet 10.213.INDEX.0/24 instead of one from Docker's default pools.
 */
async function createAppNetwork(sandbox, app, index) {
  const { toNetworkCreateOptions } = await import("../dist/deploy/docker/container-spec.js");
  await docker.createNetwork({
    ...toNetworkCreateOptions(app, { "skiff.instance": sandbox.instance }),
    IPAM: { Driver: "default", Config: [{ Subnet: `10.213.${index}.0/24` }] },
  });
}

/** Creates and deploys one app; the deploy's figures from its run record and events. */
async function deployApp(sandbox, root, app, index) {
  const dir = join(root, app);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "compose.yaml"), composeFile("r1"));
  if (!options["docker-pools"]) await createAppNetwork(sandbox, app, index);
  await sandbox.skiff(["apps:create", app]);
  const since = Date.now();
  const cli = await sandbox.skiff(["deploy", dir, "--app", app], {
    allowFailure: true,
    timeoutMs: 300_000,
  });
  const number = Number(/run (\d+) of/.exec(cli.output)?.[1]);
  if (!number || cli.code !== 0)
    throw new Error(`the deploy of ${app} failed:\n${tail(cli.output)}`);
  const timeline = await runTimeline(sandbox, app, number, since);
  return {
    app,
    deployMs: timeline.stages.deploy,
    healthyMs: timeline.webHealthyMs,
    // Last replica healthy → in the rotation: for a new backend, the whole apply with its reload.
    edgeReloadMs: timeline.webRotationMs,
    cliMs: cli.ms,
  };
}

/** A keep-alive GET on the API with the admin token; ms to the last byte and the status. */
function apiGet(sandbox, agent, path) {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = request(
      {
        host: "127.0.0.1",
        port: Number(new URL(sandbox.url).port),
        path: `/api/v1${path}`,
        agent,
        headers: { authorization: `Bearer ${sandbox.token}` },
        timeout: 10_000,
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ ms: performance.now() - started, status: res.statusCode }));
      },
    );
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
    req.on("error", (error) =>
      resolve({ ms: performance.now() - started, status: 0, error: error.code }),
    );
    req.end();
  });
}

/** `count` requests from `paths(i)`, `parallel` at a time, stopping after API_SET_SECONDS. */
async function apiSet(sandbox, label, paths, parallel) {
  const agent = new Agent({ keepAlive: true, maxSockets: parallel });
  const results = [];
  const deadline = performance.now() + API_SET_SECONDS * 1000;
  let next = 0;
  const worker = async () => {
    while (next < requests && performance.now() < deadline) {
      const i = next++;
      results.push(await apiGet(sandbox, agent, paths(i)));
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: parallel }, worker));
  const wallMs = performance.now() - started;
  agent.destroy();
  const ok = results.filter((r) => r.status === 200).map((r) => r.ms);
  const summary = {
    label,
    parallel,
    sent: results.length,
    ok: ok.length,
    failed: results.length - ok.length,
    p50: percentile(ok, 50),
    p99: percentile(ok, 99),
    max: Math.max(...ok),
    perSecond: (results.length / wallMs) * 1000,
  };
  progress(
    `  ${label}, ${parallel} at a time: p50 ${summary.p50.toFixed(1)} ms, p99 ${summary.p99.toFixed(1)} ms, max ${summary.max.toFixed(1)} ms (${summary.ok}/${summary.sent} ok)`,
  );
  return summary;
}

/** A POST whose answer is NDJSON progress; each line with the ms since the request went out. */
function streamPost(sandbox, path, body) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const lines = [];
    const req = request(
      {
        host: "127.0.0.1",
        port: Number(new URL(sandbox.url).port),
        path: `/api/v1${path}`,
        method: "POST",
        agent: false,
        headers: {
          authorization: `Bearer ${sandbox.token}`,
          "content-type": "application/json",
          accept: "application/x-ndjson",
        },
        timeout: 120_000,
      },
      (res) => {
        let buffer = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          const at = performance.now() - started;
          buffer += chunk;
          let newline = buffer.indexOf("\n");
          while (newline >= 0) {
            const text = buffer.slice(0, newline);
            buffer = buffer.slice(newline + 1);
            if (text) lines.push({ at, ...JSON.parse(text) });
            newline = buffer.indexOf("\n");
          }
        });
        res.on("end", () => {
          const result = lines.find((l) => l.type === "result");
          if (res.statusCode !== 200 || !result?.ok)
            reject(new Error(`POST ${path}: ${res.statusCode} ${JSON.stringify(lines.at(-1))}`));
          else resolve({ lines, ms: performance.now() - started });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`POST ${path}: no answer within 120 s`)));
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

/** Waits until the app has `n` containers (the retired ones are gone). */
async function settle(sandbox, app, n, timeoutMs = 60_000) {
  const deadline = performance.now() + timeoutMs;
  const label = [`skiff.app=${app}`, `skiff.instance=${sandbox.instance}`];
  while ((await docker.listContainers({ all: true, filters: { label } })).length > n) {
    if (performance.now() > deadline) throw new Error(`${app}: old replicas still there`);
    await sleep(200);
  }
}

async function edgeChangesOf(sandbox, apps) {
  const restarts = [];
  const scales = [];
  for (let k = 0; k < edgeChanges; k++) {
    interrupt.check();
    const app = apps[k];
    const { lines, ms } = await streamPost(sandbox, `/apps/${app}/restart`, {});
    const logs = lines.filter((l) => l.type === "log");
    const healthy = logs.findLast((l) => /^replica \d+ of r\d+ healthy/.test(l.text));
    const admitted = logs.find((l) => /new replica\(s\) in the rotation/.test(l.text));
    const drained = logs.find((l) => /old replica\(s\) drained and out/.test(l.text));
    restarts.push({
      app,
      ms,
      admittedMs: admitted && healthy ? admitted.at - healthy.at : undefined,
      switchMs: drained && healthy ? drained.at - healthy.at : undefined,
    });
    await settle(sandbox, app, replicas);
    const up = await streamPost(sandbox, `/apps/${app}/scale`, { web: replicas + 1 });
    const started = up.lines.find((l) => /^started replica \d+/.test(l.text));
    const end = up.lines.find((l) => l.type === "result");
    const down = await streamPost(sandbox, `/apps/${app}/scale`, { web: replicas });
    const removing = down.lines.find((l) => /^removing \d+ container/.test(l.text));
    scales.push({
      app,
      upMs: up.ms,
      upEdgeMs: started && end ? end.at - started.at : undefined,
      downMs: down.ms,
      downToRemovingMs: removing?.at,
    });
    await settle(sandbox, app, replicas);
    progress(
      `  ${app}: restart ${seconds(ms)} (healthy → admitted ${restarts.at(-1).admittedMs?.toFixed(0)} ms, → drained and out ${restarts.at(-1).switchMs?.toFixed(0)} ms); ` +
        `scale up ${seconds(up.ms)} (started → done ${scales.at(-1).upEdgeMs?.toFixed(0)} ms), down ${seconds(down.ms)} (→ removing ${scales.at(-1).downToRemovingMs?.toFixed(0)} ms)`,
    );
  }
  return { restarts, scales };
}

/** Median ms of `times` runs of `fn`. */
async function timed(times, fn) {
  const ms = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    const own = await fn(i);
    // A step that times itself (the reload) returns its own ms.
    ms.push(typeof own === "number" ? own : performance.now() - started);
  }
  return { median: median(ms), min: Math.min(...ms), max: Math.max(...ms), runs: times };
}

/** One GET of a replica's health path on a new connection, as Skiff's check sends it. */
function probe(port) {
  return new Promise((resolve) => {
    const req = request(
      { host: "127.0.0.1", port, path: "/ok.txt", agent: false, timeout: 2000 },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode }));
      },
    );
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve({ status: 0 }));
    req.end();
  });
}

/**
 * The parts of a reconcile pass and of an edge apply, timed from here
 * against the same Docker Engine and HAProxy (src/runtime/reconciler.ts
 * pass → Deployer.reconcile → converge.ts: engine.list(app),
 * httpUnhealthy, edge.setApp → EdgeRouter.apply: render, write and
 * validate the files, readActual's three runtime API reads, plan).
 */
async function explain(sandbox, apps) {
  const dist = {
    ...(await import("../dist/edge/config-render.js")),
    ...(await import("../dist/edge/edge-state.js")),
  };
  const edgeDir = join(sandbox.home, "edge");
  const label = (app) => ({
    all: true,
    filters: {
      label: [`skiff.instance=${sandbox.instance}`, `skiff.app=${app}`, "skiff.replica"],
    },
  });
  const parts = {};
  parts.listOneApp = await timed(apps.length, (i) => docker.listContainers(label(apps[i])));
  parts.listAll = await timed(10, () =>
    docker.listContainers({
      all: true,
      filters: { label: [`skiff.instance=${sandbox.instance}`, "skiff.app", "skiff.replica"] },
    }),
  );
  const containers = await docker.listContainers({
    filters: { label: [`skiff.instance=${sandbox.instance}`, "skiff.app"] },
  });
  const ports = containers.map((c) => c.Ports.find((p) => p.IP === "127.0.0.1")?.PublicPort);
  parts.httpCheck = await timed(Math.min(100, ports.length), (i) => probe(ports[i]));
  parts.inspect = await timed(20, (i) =>
    docker.getContainer(containers[i % containers.length].Id).inspect(),
  );
  const mapFile = join(edgeDir, "domains.map");
  parts.showBackend = await timed(20, () => haproxy(sandbox, "show backend"));
  parts.showServersState = await timed(20, () => haproxy(sandbox, "show servers state"));
  parts.showMap = await timed(20, () => haproxy(sandbox, `show map ${mapFile}`));
  parts.readActual = await timed(20, () =>
    Promise.all([
      haproxy(sandbox, "show backend"),
      haproxy(sandbox, "show servers state"),
      haproxy(sandbox, `show map ${mapFile}`),
    ]),
  );
  const state = JSON.parse(readFileSync(join(edgeDir, "desired-state.json"), "utf8"));
  const snapshot = () => dist.combineAppStates(new Map(Object.entries(state.apps)));
  const input = (s) => ({
    httpPort: sandbox.edgePort,
    statsPort: sandbox.statsPort,
    runtimeSocket: join(sandbox.home, "run", "haproxy.sock"),
    domainMapFile: mapFile,
    notFoundPageFile: join(edgeDir, "not-found.html"),
    backends: s.backends,
  });
  parts.render = await timed(50, () => dist.renderEdgeConfig(input(snapshot())));
  const copy = join(mkdtempSync(join(tmpdir(), "skiff-bench-many-apps-cfg-")), "haproxy.cfg");
  try {
    copyFileSync(join(edgeDir, "haproxy.cfg"), copy);
    parts.validate = await timed(5, () =>
      promisify(execFile)("/usr/sbin/haproxy", ["-c", "-f", copy]),
    );
  } finally {
    rmSync(join(copy, ".."), { recursive: true, force: true });
  }
  Object.assign(parts, await explainInProcess(sandbox, apps));
  parts.edgeVariants = await edgeVariants(ports);
  parts.reload = await timed(3, () => reloadEdge(sandbox));
  parts.configBytes = readFileSync(join(edgeDir, "haproxy.cfg")).length;
  parts.servers = containers.length;
  return parts;
}

/**
 * A reload through the master CLI, as EdgeRouter.reload sends it, timed
 * until the new worker answers on the runtime socket, polled every 5 ms
 * (EdgeRouter polls every 100 ms). The file already holds the desired
 * state, so it changes nothing.
 */
async function reloadEdge(sandbox) {
  const pidOf = async () => {
    const info = await haproxy(sandbox, "show info").catch(() => "");
    return /^Pid: (\d+)/m.exec(info)?.[1];
  };
  const master = join(sandbox.home, "run", "haproxy-master.sock");
  // After a reload the master re-executes itself and its CLI is away for a
  // few ms more than the new worker: wait for it, outside the timing.
  for (let i = 0; ; i++) {
    try {
      await socketCommand(master, "show proc");
      break;
    } catch (error) {
      if (i >= 200) throw error;
      await sleep(10);
    }
  }
  const before = await pidOf();
  const started = performance.now();
  // The master closes its CLI when it re-executes itself: an error here is expected.
  await socketCommand(master, "reload").catch(() => {});
  const deadline = performance.now() + 15_000;
  for (;;) {
    const pid = await pidOf();
    if (pid && pid !== before) return performance.now() - started;
    if (performance.now() > deadline) throw new Error("the edge did not reload within 15 s");
    await sleep(5);
  }
}

/** One command on a unix socket (HAProxy's master CLI answers once the client half-closed). */
function socketCommand(path, command) {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let text = "";
    socket.setTimeout(5000, () => socket.destroy(new Error(`${path}: no answer to ${command}`)));
    socket.on("connect", () => socket.end(`${command}\n`));
    socket.on("data", (chunk) => {
      text += chunk;
    });
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}

/**
 * The parts of one app's turn in a pass that run inside the control plane,
 * run here from dist/ on the sandbox's own state: ReleaseReader.find (the
 * live release, read and decoded from SQLite, as Deployer.converge does),
 * the desired-state file written as EdgeRouter.commit writes it, and a whole
 * EdgeRouter.setApp that changes nothing (what converge calls for every app
 * in every pass), by a router that reads the real HAProxy but may only send
 * `show` commands and must not reload or validate (it would throw), and
 * writes its desired state to a copy.
 */
async function explainInProcess(sandbox, apps) {
  const dist = {
    ...(await import("../dist/state/database.js")),
    ...(await import("../dist/state/runs.js")),
    ...(await import("../dist/deploy/release.js")),
    ...(await import("../dist/edge/edge-router.js")),
    ...(await import("../dist/edge/managed-edge.js")),
    ...(await import("../dist/edge/runtime-api.js")),
    ...(await import("../dist/config.js")),
  };
  const parts = {};
  const db = dist.openDatabase(join(sandbox.home, "skiff.db"));
  try {
    const reader = new dist.ReleaseReader(new dist.RunStore(db));
    parts.releaseFind = await timed(apps.length, (i) => {
      reader.find(apps[i], 1);
    });
  } finally {
    db.close();
  }
  const scratch = mkdtempSync(join(tmpdir(), "skiff-bench-many-apps-state-"));
  try {
    const stateFile = join(scratch, "desired-state.json");
    const text = readFileSync(join(sandbox.home, "edge", "desired-state.json"), "utf8");
    parts.stateBytes = text.length;
    parts.stateWrite = await timed(50, () => {
      const json = `${JSON.stringify(JSON.parse(text), null, 2)}\n`;
      writeFileSync(`${stateFile}.tmp`, json);
      renameSync(`${stateFile}.tmp`, stateFile);
    });
    const real = new dist.EdgeRuntimeApi(join(sandbox.home, "run", "haproxy.sock"));
    const refuse = (what) => {
      throw new Error(`the bench's read-only router tried to ${what}`);
    };
    const readOnly = {
      execute: (command) => (/^show /.test(command) ? real.execute(command) : refuse(command)),
      command: (command) => (/^show /.test(command) ? real.command(command) : refuse(command)),
      info: () => real.info(),
    };
    const config = dist.loadConfig(sandbox.env);
    copyFileSync(join(sandbox.home, "edge", "desired-state.json"), stateFile);
    const router = new dist.EdgeRouter({
      ...dist.edgeRouterOptions(config),
      stateFile,
      runtime: readOnly,
      master: { command: () => refuse("reload") },
      validateConfig: async () => refuse("validate a changed config"),
    });
    let refused = 0;
    parts.noopSetApp = await timed(apps.length, async (i) => {
      const state = router.appState(apps[i]);
      // The server changed something meanwhile: this router would have had to act, so it refused.
      if (state) await router.setApp(apps[i], state).catch(() => refused++);
    });
    parts.noopSetAppRefused = refused;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return parts;
}

/**
 * What an edge change costs in EdgeRouter, and what would make it cheaper:
 * a HAProxy of its own (started by Skiff's supervisor from managedEdgeSpec,
 * in a temporary SKIFF_HOME on free ports, as bench/edge-death does) with
 * one backend whose servers are two of the sandbox's replicas. Each
 * variant adds the second server (setApp) and takes it out again, 5 times:
 *   as deploys send it today (the server not marked `checked`: the router
 *   waits for HAProxy's own first passing check, rise 2),
 *   marked `checked` (Skiff's check passed: admitted at once),
 * each with the config validated by `haproxy -c` (today) and without.
 */
async function edgeVariants(ports) {
  const dist = {
    ...(await import("../dist/config.js")),
    ...(await import("../dist/edge/edge-router.js")),
    ...(await import("../dist/edge/managed-edge.js")),
    ...(await import("../dist/runtime/managed-process.js")),
    ...(await import("../dist/runtime/supervisor.js")),
    ...(await import("../dist/state/database.js")),
    ...(await import("../dist/state/store.js")),
  };
  const home = mkdtempSync(join(tmpdir(), "skiff-bench-many-apps-edge-"));
  const { freePort } = await import("./lib/local-edge.mjs");
  const config = dist.loadConfig({
    SKIFF_HOME: home,
    SKIFF_EDGE_PORT: String(await freePort()),
    SKIFF_EDGE_STATS_PORT: String(await freePort()),
  });
  let validate = true;
  const router = new dist.EdgeRouter({
    ...dist.edgeRouterOptions(config),
    validateConfig: (file) =>
      validate ? promisify(execFile)("/usr/sbin/haproxy", ["-c", "-f", file]) : Promise.resolve(),
  });
  const edge = dist.managedEdgeSpec(config, { router });
  const quiet = {
    info() {},
    warn: (m) => progress(`  supervisor: ${m}`),
    error: (m) => progress(`  supervisor: ${m}`),
  };
  const supervisor = new dist.DataPlaneSupervisor({
    processes: [edge],
    store: new dist.Store(dist.openDatabase(":memory:")),
    logger: quiet,
  });
  const state = (servers) => ({
    backends: [
      {
        name: "app_probe__web",
        healthPath: "/ok.txt",
        servers: servers.map((s) => ({ ...s, address: { host: "127.0.0.1", port: s.port } })),
      },
    ],
    domains: { "probe.localhost": "app_probe__web" },
  });
  const a = { name: "r1-1", port: ports[0] };
  const b = { name: "r1-2", port: ports[1] };
  const results = {};
  try {
    await supervisor.ensureAll();
    await router.setApp("probe", state([a]));
    for (const checked of [false, true]) {
      for (const validated of [true, false]) {
        validate = validated;
        const add = [];
        const remove = [];
        for (let i = 0; i < 5; i++) {
          let started = performance.now();
          await router.setApp("probe", state([a, { ...b, ...(checked ? { checked: true } : {}) }]));
          add.push(performance.now() - started);
          started = performance.now();
          await router.setApp("probe", state([a]));
          remove.push(performance.now() - started);
        }
        results[
          `${checked ? "checked" : "unchecked"}, ${validated ? "haproxy -c" : "no haproxy -c"}`
        ] = {
          addMs: median(add),
          removeMs: median(remove),
        };
      }
    }
  } finally {
    await supervisor.stop();
    await dist.stopProcess(edge, { graceMs: 5000 });
    rmSync(home, { recursive: true, force: true });
  }
  return results;
}

/** Self and inclusive CPU time per function of a .cpuprofile, the largest first. */
function summarizeProfile(file) {
  const profile = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (n) => {
    const { functionName, url, lineNumber } = n.callFrame;
    const where = url
      ? `${url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, "$1/")}:${lineNumber + 1}`
      : "";
    return `${functionName || "(anonymous)"}${where ? ` ${where}` : ""}`;
  };
  const self = new Map();
  const inclusive = new Map();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(profile.samples[i]);
    if (!node) continue;
    total += ms;
    self.set(name(node), (self.get(name(node)) ?? 0) + ms);
    const seen = new Set();
    for (let id = node.id; id !== undefined; id = parent.get(id)) {
      const key = name(byId.get(id));
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + ms);
    }
  }
  const idle = self.get("(idle)") ?? 0;
  const top = (map, filter, n) =>
    [...map]
      .filter(([k]) => filter(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([fn, ms]) => ({ fn, ms: Math.round(ms) }));
  return {
    file,
    totalMs: Math.round(total),
    busyMs: Math.round(total - idle),
    gcMs: Math.round(self.get("(garbage collector)") ?? 0),
    topSelf: top(self, (k) => k !== "(idle)" && k !== "(root)", 15),
    topSkiff: top(inclusive, (k) => k.includes(" dist/"), 20),
  };
}

/** Polls /status every second for `seconds`: each reconcile pass once, RSS every 5 s. */
async function steadyState(sandbox, secondsLong) {
  const passes = new Map();
  const rss = [];
  const machineBefore = machineTicks();
  const serverBefore = processTicks(sandbox.pid);
  const started = performance.now();
  let tick = 0;
  while (performance.now() - started < secondsLong * 1000) {
    interrupt.check();
    const status = await api(sandbox, "GET", "/status");
    if (status.reconciler) passes.set(status.reconciler.finishedAt, status.reconciler);
    if (tick % 5 === 0)
      rss.push({
        s: Math.round((performance.now() - started) / 1000),
        bytes: processRss(sandbox.pid),
      });
    tick++;
    await sleep(1000);
  }
  const machineAfter = machineTicks();
  const windowS = (performance.now() - started) / 1000;
  return {
    passes: [...passes.values()],
    rss,
    // Over the window: the server's CPU in cores, and how busy the machine was (all of it).
    serverCores: (processTicks(sandbox.pid) - serverBefore) / TICKS_PER_SECOND / windowS,
    machineBusy:
      (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total),
  };
}

async function measure() {
  const startedAt = performance.now();
  const busybox = await ensureBusyboxImage(docker);
  if (busybox.imported) progress(`imported ${BUSYBOX_IMAGE} from /bin/busybox`);
  const root = mkdtempSync(join(tmpdir(), "skiff-bench-many-apps-work-"));
  let sandbox;
  try {
    sandbox = await sandboxServer({ prefix: "skiff-bench-many-apps-" });
    progress(`skiff server pid ${sandbox.pid} at ${sandbox.url}, edge :${sandbox.edgePort}`);
    await sleep(2000);
    const rss = { started: processRss(sandbox.pid) };
    const apps = [];
    const deploys = [];
    const deployStarted = performance.now();
    for (let i = 1; i <= appCount; i++) {
      interrupt.check();
      const app = appName(i);
      deploys.push(await deployApp(sandbox, root, app, i));
      apps.push(app);
      if (i % 10 === 0 || i === appCount) {
        const d = deploys.at(-1);
        progress(
          `${i}/${appCount} apps deployed; the last: deploy stage ${seconds(d.deployMs)}, healthy → in the rotation (reload) ${d.edgeReloadMs} ms; server RSS ${(processRss(sandbox.pid) / 2 ** 20).toFixed(0)} MiB`,
        );
      }
    }
    const deployAllMs = performance.now() - deployStarted;
    rss.deployed = processRss(sandbox.pid);
    progress(`steady state for ${steadySeconds} s`);
    const busyBefore = await cpuBusy(2000);
    const steady = await steadyState(sandbox, steadySeconds);
    rss.steady = processRss(sandbox.pid);
    progress(
      `  ${steady.passes.length} reconcile passes: ${steady.passes.map((p) => p.durationMs).join(", ")} ms; RSS ${(rss.steady / 2 ** 20).toFixed(0)} MiB`,
    );
    progress(`API latency, ${requests} requests per set`);
    const apiSets = [];
    for (const parallel of [1, concurrency]) {
      apiSets.push(await apiSet(sandbox, "GET /api/v1/apps", () => "/apps", parallel));
      apiSets.push(
        await apiSet(
          sandbox,
          "GET /api/v1/apps/APP/ps",
          (i) => `/apps/${apps[i % apps.length]}/ps`,
          parallel,
        ),
      );
    }
    progress(`edge changes on ${edgeChanges} apps`);
    const edge = await edgeChangesOf(sandbox, apps);
    interrupt.check();
    progress("one more app: a new backend, so a reload");
    const extra = await deployApp(sandbox, root, appName(appCount + 1), appCount + 1);
    apps.push(extra.app);
    progress(`  healthy → in the rotation (with the reload) ${extra.edgeReloadMs} ms`);
    progress("timing the parts of a pass and of an edge apply");
    const parts = await explain(sandbox, apps);
    let profile;
    if (options.profile) {
      const dir = mkdtempSync(join(tmpdir(), "skiff-bench-many-apps-prof-"));
      try {
        progress(`restarting the server with --cpu-prof (${dir})`);
        await sandbox.restart({ nodeArgs: ["--cpu-prof", "--cpu-prof-dir", dir] });
        const profiled = await steadyState(sandbox, steadySeconds);
        const profiledApi = [
          await apiSet(sandbox, "GET /api/v1/apps", () => "/apps", 1),
          await apiSet(
            sandbox,
            "GET /api/v1/apps/APP/ps",
            (i) => `/apps/${apps[i % apps.length]}/ps`,
            1,
          ),
        ];
        await sandbox.restart();
        const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
        profile = {
          passes: profiled.passes,
          api: profiledApi,
          ...(file ? summarizeProfile(join(dir, file)) : { error: "no .cpuprofile written" }),
        };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const command = `node bench/many-apps.mjs${process.argv.length > 2 ? ` ${process.argv.slice(2).join(" ")}` : ""}`;
    return {
      machine: await machineLine(sandbox, command),
      settings: {
        apps: appCount,
        dockerPools: options["docker-pools"],
        replicas,
        steadySeconds,
        requests,
        concurrency,
        edgeChanges,
        memoryLimit: MEMORY_LIMIT,
      },
      cpuBusyBeforeSteady: busyBefore,
      deployAllMs,
      deploys,
      extra,
      rss,
      steady,
      api: apiSets,
      edge,
      parts,
      profile,
      benchSeconds: (performance.now() - startedAt) / 1000,
    };
  } finally {
    progress("cleaning up");
    await sandbox?.destroy();
    rmSync(root, { recursive: true, force: true });
    if (busybox.imported) {
      await docker
        .getImage(BUSYBOX_IMAGE)
        .remove()
        .catch((error) => progress(`could not remove ${BUSYBOX_IMAGE}: ${error.message}`));
    }
  }
}

const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const msText = (value) =>
  value === undefined || Number.isNaN(value) ? "–" : `${value.toFixed(value < 10 ? 1 : 0)} ms`;
const verdict = (ok) => (ok ? "met" : "**missed**");

function report(m) {
  const { settings, rss, steady, edge, parts, deploys, extra } = m;
  const passMs = steady.passes.map((p) => p.durationMs);
  const reloads = deploys.map((d) => d.edgeReloadMs).filter((v) => v !== undefined);
  const firstReloads = reloads.slice(0, 5);
  const lastReloads = reloads.slice(-5);
  const admitted = edge.restarts.map((r) => r.admittedMs).filter((v) => v !== undefined);
  const switched = edge.restarts.map((r) => r.switchMs).filter((v) => v !== undefined);
  const upEdge = edge.scales.map((s) => s.upEdgeMs).filter((v) => v !== undefined);
  const down = edge.scales.map((s) => s.downToRemovingMs).filter((v) => v !== undefined);
  const worstP99 = Math.max(...m.api.map((a) => a.p99));
  const lines = [
    m.machine,
    "",
    `${settings.apps} apps, ${settings.dockerPools ? "each app's network from Docker's default address pools" : "each app's network created by the bench as Skiff creates it, with a /24 of 10.213.0.0/16 (Docker's default pools run out at about 30 networks)"}; each one web service with ${settings.replicas} replicas (${BUSYBOX_IMAGE} httpd as an \`image:\` service, ${settings.memoryLimit} limit each, health GET /ok.txt every 250 ms), routed by the edge at APP.localhost; ${settings.apps * settings.replicas} replicas in all. Deployed one after the other with \`skiff deploy\` in ${seconds(m.deployAllMs)}. CPUs busy with other work before the steady state: ${percent(m.cpuBusyBeforeSteady)}.`,
    "",
    "| what | measured | target | |",
    "|---|---:|---:|---|",
    `| control plane RSS (VmRSS of \`skiff server\`), all deployed | ${mib(rss.deployed)} | ≤ 150 MB | ${verdict(rss.deployed <= TARGETS.rssBytes)} |`,
    `| control plane RSS after ${settings.steadySeconds} s of steady state | ${mib(rss.steady)} | ≤ 150 MB | ${verdict(rss.steady <= TARGETS.rssBytes)} |`,
    `| reconcile pass (\`reconciler.durationMs\`), median of ${passMs.length} (min–max) | ${msText(median(passMs))} (${Math.min(...passMs)}–${Math.max(...passMs)} ms) | ≤ 100 ms | ${verdict(median(passMs) <= TARGETS.passMs)} |`,
    ...m.api.map(
      (a) =>
        `| ${a.label}, ${a.parallel} at a time: p99 (p50, max) | ${msText(a.p99)} (${msText(a.p50)}, ${msText(a.max)}) | ≤ 50 ms | ${verdict(a.p99 <= TARGETS.apiP99Ms)} |`,
    ),
    `| edge change in a rollout (restart): last replica healthy → new ones admitted, median of ${admitted.length} | ${msText(median(admitted))} | ≤ 50 ms | ${verdict(median(admitted) <= TARGETS.edgeMs)} |`,
    `| edge change in a rollout (restart): last replica healthy → old ones drained and out (the whole switch) | ${msText(median(switched))} | ≤ 50 ms | ${verdict(median(switched) <= TARGETS.edgeMs)} |`,
    `| edge change by \`scale web=${settings.replicas + 1}\`: "started replica" → answer done (one server added) | ${msText(median(upEdge))} | ≤ 50 ms | ${verdict(median(upEdge) <= TARGETS.edgeMs)} |`,
    `| \`scale web=${settings.replicas}\`: request → "removing 1 container(s)" (list, HTTP checks, one server drained and deleted) | ${msText(median(down))} | | |`,
    `| edge reload (new app's backend): last replica healthy → in the rotation, first 5 apps / last 5 apps / app ${settings.apps + 1} after the steady state | ${msText(median(firstReloads))} / ${msText(median(lastReloads))} / ${msText(extra.edgeReloadMs)} | | |`,
    "",
    `RSS when the server had started: ${mib(rss.started)}; during the steady state: ${steady.rss.map((r) => `${r.s} s ${mib(r.bytes)}`).join(", ")}.`,
    `Reconcile passes seen: ${passMs.join(", ")} ms (apps in each: ${[...new Set(steady.passes.map((p) => p.apps))].join(" or ") || "?"}; one starts every 5 s). Over the steady state the server used ${steady.serverCores === undefined ? "?" : `${(steady.serverCores * 100).toFixed(0)} % of a core`}, and the whole machine was ${percent(steady.machineBusy)} busy (other work included). Worst API p99: ${msText(worstP99)}.`,
    "",
    `Where the time goes (the same operations, timed from the bench against the same Docker Engine and HAProxy; median of n):`,
    "",
    "| operation | median | n | in the code |",
    "|---|---:|---:|---|",
    `| list one app's containers (Engine API, label filter) | ${msText(parts.listOneApp.median)} | ${parts.listOneApp.runs} | engine.list(app): in ps, and for an app a pass's survey is stale for (Deployer.replicasOf) |`,
    `| list every replica container | ${msText(parts.listAll.median)} | ${parts.listAll.runs} | Deployer.survey(): once at the start of a pass |`,
    `| one HTTP check of a replica (new connection) | ${msText(parts.httpCheck.median)} | ${parts.httpCheck.runs} | httpUnhealthy in converge: each replica the edge does not see up, every pass (apps 4 at a time) |`,
    `| inspect one container | ${msText(parts.inspect.median)} | ${parts.inspect.runs} | DockerEngine.details: once per replica in ps |`,
    `| runtime API: show backend / show servers state / show map | ${msText(parts.showBackend.median)} / ${msText(parts.showServersState.median)} / ${msText(parts.showMap.median)} | 20 | EdgeRouter.readActual, all three at once: ${msText(parts.readActual.median)} |`,
    `| render haproxy.cfg from the desired state (${(parts.configBytes / 1024).toFixed(0)} KB, ${parts.servers} servers) | ${msText(parts.render.median)} | ${parts.render.runs} | EdgeRouter.apply → writeValidatedFiles (every setApp that changes something) |`,
    `| \`haproxy -c -f\` of that config | ${msText(parts.validate.median)} | ${parts.validate.runs} | validateWithHaproxy, whenever the rendered file changed |`,
    `| reload through the master CLI until the new worker answers (polled every 5 ms) | ${msText(parts.reload.median)} | ${parts.reload.runs} | EdgeRouter.reload (polls every 100 ms) |`,
    ...(parts.releaseFind
      ? [
          `| ReleaseReader.find(app, live): SQLite row + decodePlan, in-process (dist/) | ${msText(parts.releaseFind.median)} | ${parts.releaseFind.runs} | Deployer.converge, once per app per pass (no cache; the statement is prepared on every call) |`,
          `| desired-state.json (${(parts.stateBytes / 1024).toFixed(0)} KB) stringified, written and renamed, in-process | ${msText(parts.stateWrite.median)} | ${parts.stateWrite.runs} | EdgeRouter.commit, on every setApp that changes something |`,
          `| a whole EdgeRouter.setApp that changes nothing, in-process on the same HAProxy (read-only) | ${msText(parts.noopSetApp.median)} | ${parts.noopSetApp.runs}${parts.noopSetAppRefused ? ` (${parts.noopSetAppRefused} refused)` : ""} | converge → edge.setApp, for every app in every pass: nothing is sent or written while HAProxy matches |`,
        ]
      : []),
    "",
    ...(parts.edgeVariants
      ? [
          "One server added to and removed from a backend by EdgeRouter.setApp, on a HAProxy of its own with one backend (median of 5 each):",
          "",
          "| variant | add (new server in the rotation) | remove (drain, maint, del) |",
          "|---|---:|---:|",
          ...Object.entries(parts.edgeVariants).map(
            ([variant, v]) => `| ${variant} | ${msText(v.addMs)} | ${msText(v.removeMs)} |`,
          ),
          "",
          "A deploy marks the replicas Skiff's own check passed as `checked` (src/deploy/edge-targets.ts toEdgeAppState); every config that changed, server lines included, is validated by `haproxy -c` (EdgeRouter.writeValidatedFiles).",
          "",
        ]
      : []),
  ];
  if (m.profile) {
    const p = m.profile;
    lines.push(
      `CPU profile of a restarted server (--cpu-prof) over ${settings.steadySeconds} s of steady state and ${settings.requests} + ${settings.requests} sequential API requests: ${(p.busyMs / 1000).toFixed(1)} s of CPU in ${(p.totalMs / 1000).toFixed(1)} s (GC ${(p.gcMs / 1000).toFixed(1)} s). Passes while profiled: ${p.passes.map((x) => x.durationMs).join(", ")} ms.`,
      "",
      "| function (self time) | ms |",
      "|---|---:|",
      ...(p.topSelf ?? []).map((f) => `| \`${f.fn}\` | ${f.ms} |`),
      "",
      "| Skiff function (inclusive CPU) | ms |",
      "|---|---:|",
      ...(p.topSkiff ?? []).map((f) => `| \`${f.fn}\` | ${f.ms} |`),
      "",
    );
  }
  lines.push(`The bench took ${seconds(m.benchSeconds * 1000)} in all.`, "");
  return lines.join("\n");
}

await runJsonBench("many-apps", { options, interrupt }, measure, report);
