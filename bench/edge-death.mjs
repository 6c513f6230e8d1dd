#!/usr/bin/env node
// bench/edge-death: how long the edge is gone when HAProxy dies under load.
//
//   node bench/edge-death.mjs [--rate N] [--runs N] [--compare] [--write] [--json]
//
// Needs no Docker and no Skiff server, only HAProxy and the built dist/
// (npm run build). It runs the edge the way `skiff server` does: the
// data-plane supervisor (src/runtime/supervisor.ts) starting HAProxy from
// managedEdgeSpec (src/edge/managed-edge.ts), with the router that deploys
// use writing its files, in a temporary SKIFF_HOME on free 127.0.0.1 ports.
// Two apps stand behind it (replicas: small Node.js HTTP servers in
// processes of their own): shop with two servers, one of them added through
// the runtime API, and blog with one.
//
// Each run sends a fixed rate of keep-alive GETs to shop through the edge
// (open loop, 8 connections, bench/lib/load.mjs rawLoad), then `kill -9`s
// HAProxy's worker (or its master), keeps the load going for a few seconds
// and stops. A fresh supervisor adopts the running edge before each kill,
// as `skiff server` does when it starts, so every kill is the first death of
// a long-running edge (no crash-loop backoff), at a random moment of the
// supervisor's 2 s check period. Reported per kind of kill: the longest time
// without an answer after the kill, when it ended (counted from the kill),
// and the requests that failed. After each run the bench checks that the
// edge routes as before (both of shop's servers, blog, the 404 page).
// --compare also runs every kill with the supervisor's regular checks alone
// (every 2 s, no watch of the edge's master), as before the watch existed.

import { mkdtempSync, rmSync } from "node:fs";
import * as http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { rawLoad, summarize } from "./lib/load.mjs";
import { freePort, localMachineLine, startReplica } from "./lib/local-edge.mjs";
import { benchArgs, median, onInterrupt, progress, runBench } from "./lib/platform.mjs";

const CONNECTIONS = 8;
const BEFORE_MS = 1500;
const AFTER_MS = 4000;

const { options, usage } = benchArgs(
  "node bench/edge-death.mjs [--rate N] [--runs N] [--compare] [--write] [--json]",
  {
    rate: { type: "string", default: "500" },
    runs: { type: "string", default: "5" },
    compare: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
);
const rate = Number(options.rate);
const runs = Number(options.runs);
if (!(rate >= 1 && rate <= 2000)) usage("--rate takes 1 to 2000 requests per second");
if (!Number.isInteger(runs) || runs < 1 || runs > 20) usage("--runs takes 1 to 20");
const interrupt = onInterrupt();

let dist;
try {
  dist = {
    ...(await import("../dist/config.js")),
    ...(await import("../dist/edge/managed-edge.js")),
    ...(await import("../dist/edge/runtime-state.js")),
    ...(await import("../dist/runtime/managed-process.js")),
    ...(await import("../dist/runtime/supervisor.js")),
    ...(await import("../dist/state/database.js")),
    ...(await import("../dist/state/store.js")),
  };
} catch (error) {
  usage(`cannot load Skiff's dist/ (${error.message}): run npm run build first`);
}

function appState(app, replicas, domain) {
  const backend = `app_${app}__web`;
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

/** One GET through the edge on a connection of its own: status and body, or the error's code. */
function get(port, host) {
  return new Promise((resolve) => {
    const request = http.get(
      { host: "127.0.0.1", port, path: "/", agent: false, headers: { host }, timeout: 3000 },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => {
          body += chunk;
        });
        response.on("end", () => resolve({ status: response.statusCode, body: body.trim() }));
      },
    );
    request.on("timeout", () =>
      request.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })),
    );
    request.on("error", (error) => resolve({ status: 0, body: error.code ?? error.message }));
  });
}

async function waitUntil(what, probe, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await sleep(20);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

async function measure() {
  const home = mkdtempSync(join(tmpdir(), "skiff-bench-edge-death-"));
  const edgePort = await freePort();
  const config = dist.loadConfig({
    SKIFF_HOME: home,
    SKIFF_EDGE_PORT: String(edgePort),
    SKIFF_EDGE_STATS_PORT: String(await freePort()),
  });
  const edge = dist.managedEdgeSpec(config);
  const replicas = [];
  const logger = {
    info() {},
    warn: (m) => progress(`  supervisor: ${m}`),
    error: (m) => progress(`  supervisor: ${m}`),
  };
  const supervise = async (watch) => {
    const supervisor = new dist.DataPlaneSupervisor({
      processes: [watch ? edge : { ...edge, watchMs: undefined }],
      store: new dist.Store(dist.openDatabase(":memory:")),
      logger,
    });
    await supervisor.ensureAll();
    supervisor.start();
    return supervisor;
  };
  let supervisor;
  try {
    for (const name of ["r1-1", "r2-1", "r1-2"]) replicas.push(await startReplica(name));
    const [shop1, shop2, blog1] = replicas;
    supervisor = await supervise(true);
    await edge.router.setApp("shop", appState("shop", [shop1], "shop.localhost"));
    await edge.router.setApp("blog", appState("blog", [blog1], "blog.localhost"));
    await edge.router.setApp("shop", appState("shop", [shop1, shop2], "shop.localhost"));
    await supervisor.stop();
    await checkRoutes(edgePort);
    progress(`edge on 127.0.0.1:${edgePort}: shop (r1-1, r2-1 added at runtime), blog (r1-2)`);

    const results = [];
    const modes = options.compare ? ["watch", "regular checks"] : ["watch"];
    for (let i = 0; i < runs; i++) {
      for (const mode of modes) {
        for (const kind of ["worker", "master"]) {
          interrupt.check();
          supervisor = await supervise(mode === "watch");
          try {
            const result = await oneKill(edge, edgePort, kind, supervisor);
            results.push({ mode, kind, run: i + 1, ...result });
            progress(
              `run ${i + 1}, ${mode}, kill -9 of the ${kind}: no answer for ${result.outageMs.toFixed(0)} ms, serving again ${result.servesAgainMs.toFixed(0)} ms after the kill; ${result.failed} of ${result.sent} requests failed (${
                Object.entries(result.errors)
                  .map(([k, v]) => `${k} ${v}`)
                  .join(", ") || "none"
              })`,
            );
          } finally {
            await supervisor.stop();
            supervisor = undefined;
          }
        }
      }
    }
    return { rate, runs, modes, results };
  } finally {
    await supervisor?.stop();
    await dist.stopProcess(edge, { graceMs: 5000 });
    for (const replica of replicas) replica.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

/**
 * One kill -9 under load; the figures of its window, once the edge routes as
 * before again. The kill comes at a random moment of the supervisor's 2 s
 * check period, as a crash would.
 */
async function oneKill(edge, edgePort, kind, supervisor) {
  await sleep(Math.random() * 2000);
  const processes = dist.parseShowProc(await edge.router.master.command("show proc"));
  const target = kind === "worker" ? processes.workers[0] : processes.masterPid;
  if (!target) throw new Error(`no ${kind} in the edge's show proc`);
  const load = rawLoad({
    port: edgePort,
    host: "shop.localhost",
    path: "/",
    rate,
    connections: CONNECTIONS,
    maxSeconds: (BEFORE_MS + AFTER_MS) / 1000 + 5,
  });
  await sleep(BEFORE_MS);
  const killAt = load.now();
  process.kill(target, "SIGKILL");
  await sleep(AFTER_MS);
  const { records } = await load.stop();
  await waitUntil(
    "the supervisor to count the edge running",
    () => supervisor.states()[0]?.state === "running",
  );
  await checkRoutes(edgePort);
  // When each answer arrived. The longest stretch without one after the kill
  // is the outage (at this rate answers come every few ms); a killed master's
  // worker may go on answering for a moment, so it need not start at the kill.
  const answers = records
    .filter((r) => r.status >= 200 && r.status < 300)
    .map((r) => r.t + r.ms)
    .filter((at) => at >= killAt)
    .sort((x, y) => x - y);
  let gap = { from: killAt, to: answers[0] ?? Number.NaN };
  for (let i = 1; i < answers.length; i++) {
    if (answers[i] - answers[i - 1] > gap.to - gap.from) {
      gap = { from: answers[i - 1], to: answers[i] };
    }
  }
  const failed = records.filter((r) => !(r.status >= 200 && r.status < 300));
  const summary = summarize(records);
  return {
    target,
    sent: records.length,
    failed: failed.length,
    // Due more than 100 ms before the kill: not in flight when it came.
    failedLongBeforeKill: failed.filter((r) => r.t < killAt - 100).length,
    errors: {
      ...summary.errors,
      ...Object.fromEntries(Object.entries(summary.byClass).filter(([k]) => k !== "2xx")),
    },
    servesAgainMs: gap.to - killAt,
    outageMs: gap.to - gap.from,
  };
}

/** The edge routes as before: both of shop's servers, blog's, and the 404 page. */
async function checkRoutes(port) {
  const shop = new Set();
  for (let i = 0; i < 6; i++) {
    const answer = await get(port, "shop.localhost");
    if (answer.status !== 200)
      throw new Error(`shop.localhost answered ${answer.status} ${answer.body}`);
    shop.add(answer.body);
  }
  if ([...shop].sort().join(",") !== "r1-1,r2-1")
    throw new Error(`shop.localhost was served by ${[...shop].join(", ")}, not by r1-1 and r2-1`);
  const blog = await get(port, "blog.localhost");
  if (blog.status !== 200 || blog.body !== "r1-2")
    throw new Error(`blog.localhost answered ${blog.status} ${blog.body}, not r1-2`);
  const unknown = await get(port, "nothing.localhost");
  if (unknown.status !== 404)
    throw new Error(`an unknown host got ${unknown.status}, not the 404 page`);
}

function report(measured, machine) {
  if (options.json) return `${JSON.stringify(measured, null, 2)}\n`;
  const ms = (v) => (Number.isNaN(v) ? "never" : `${v.toFixed(0)} ms`);
  const lines = [
    machine,
    "",
    `Load: ${measured.rate} GET/s of \`/\` on shop through the edge (keep-alive, ${CONNECTIONS} connections, a minimal HTTP/1.1 client, open loop), ${BEFORE_MS / 1000} s before the kill and ${AFTER_MS / 1000} s after it; ${measured.runs} kills of each kind, each under a supervisor that adopted the running edge.`,
    "",
    "| supervisor | kill -9 of | serving again after the kill (median; min–max) | longest time without an answer (median; min–max) | failed requests per kill (median; min–max) | requests per kill | routes afterwards |",
    "|---|---|---:|---:|---:|---:|---|",
  ];
  for (const mode of measured.modes) {
    for (const kind of ["worker", "master"]) {
      const rows = measured.results.filter((r) => r.mode === mode && r.kind === kind);
      const again = rows.map((r) => r.servesAgainMs);
      const outage = rows.map((r) => r.outageMs);
      const failed = rows.map((r) => r.failed);
      lines.push(
        `| ${mode === "watch" ? "as `skiff server` runs it (the edge's master watched every 50 ms)" : "regular checks alone (every 2 s), as before the watch"} | HAProxy's ${kind} | **${ms(median(again))}** (${ms(Math.min(...again))}–${ms(Math.max(...again))}) | ${ms(median(outage))} (${ms(Math.min(...outage))}–${ms(Math.max(...outage))}) | ${median(failed)} (${Math.min(...failed)}–${Math.max(...failed)}) | ${median(rows.map((r) => r.sent))} | the same (checked after each kill) |`,
      );
    }
  }
  const codes = {};
  for (const r of measured.results.filter((x) => x.mode === "watch")) {
    for (const [code, n] of Object.entries(r.errors)) codes[code] = (codes[code] ?? 0) + n;
  }
  lines.push(
    "",
    `Failures with the watch, by kind: ${
      Object.entries(codes)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ") || "none"
    }. Requests that failed though due more than 100 ms before a kill: ${measured.results.reduce((n, r) => n + r.failedLongBeforeKill, 0)}. The client queues a request while it has no open connection (it reconnects every 20 ms), so a request fails only when it was in flight on a connection the kill cut; the others wait, and count in the time without an answer.`,
  );
  return `${lines.join("\n")}\n`;
}

await runBench("edge-death", { machine: localMachineLine, options, interrupt }, measure, report);
