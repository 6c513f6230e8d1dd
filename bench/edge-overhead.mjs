#!/usr/bin/env node
// bench/edge-overhead: what the edge (HAProxy) adds to a request.
//
//   node bench/edge-overhead.mjs [--rate N] [--seconds S] [--windows W] [--runs N] [--write]
//
// Deploys a uniquely named copy of examples/shop with one web replica, then
// sends a fixed rate of keep-alive GETs of /healthz (answered by web alone,
// no api call) in alternating windows: straight to the port the replica
// publishes on 127.0.0.1, and through the edge with the app's Host header.
// Same container, same rate, same client, same run. For each path it reports
// p50/p99/p99.9 latency, and for the edge the HAProxy worker's CPU time per
// request: utime + stime from /proc/PID/stat over the requests HAProxy
// counted (`show info` CumReq, cross-checked with the app backend's own
// counter in `show stat`). The edge's CPU during the direct windows (health
// checks, anything else it serves meanwhile) is its idle work; the net
// figure subtracts it, per second.
//
// The load generator is a minimal keep-alive HTTP/1.1 client on net.Socket
// (bench/lib/load.mjs rawLoad) so that it takes little of the two CPUs; its
// CPU per request and the machine's CPU busy in each window are reported.
//
// Targets: ≤ 60 µs of edge CPU per request, ≤ 2 ms added p99. The app is
// destroyed at the end.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { rawLoad, summarize } from "./lib/load.mjs";
import {
  benchArgs,
  cpuBusy,
  destroyApp,
  dockerClient,
  dockerProxyPid,
  haproxyInfo,
  haproxyStat,
  machineTicks,
  median,
  onInterrupt,
  percent,
  processTicks,
  progress,
  run,
  runBench,
  serverConfig,
  shopCopy,
  skiff,
  TICKS_PER_SECOND,
} from "./lib/platform.mjs";

const TARGET_CPU_US = 60;
const TARGET_ADDED_P99_MS = 2;
const CONNECTIONS = 8;

const { options, usage } = benchArgs(
  "node bench/edge-overhead.mjs [--rate N] [--seconds S] [--windows W] [--runs N] [--write]",
  {
    rate: { type: "string", default: "500" },
    seconds: { type: "string", default: "5" },
    windows: { type: "string", default: "4" },
    runs: { type: "string", default: "3" },
  },
);
const rate = Number(options.rate);
const windowSeconds = Number(options.seconds);
const windows = Number(options.windows);
const runs = Number(options.runs);
if (!(rate >= 1 && rate <= 2000)) usage("--rate takes 1 to 2000 requests per second");
if (!(windowSeconds >= 1 && windowSeconds <= 60)) usage("--seconds takes 1 to 60");
if (!Number.isInteger(windows) || windows < 1 || windows > 10) usage("--windows takes 1 to 10");
if (!Number.isInteger(runs) || runs < 1 || runs > 10) usage("--runs takes 1 to 10");

const server = serverConfig();
const docker = dockerClient();
const interrupt = onInterrupt();
const app = `bench-edge-${Math.random().toString(16).slice(2, 8)}`;
const backend = `app_${app}__web`;

/** The bench's load on `target` for `seconds`; resolves with what rawLoad's stop() gives. */
async function loadFor(target, seconds) {
  const load = rawLoad({
    ...target,
    path: "/healthz",
    rate,
    connections: CONNECTIONS,
    maxSeconds: seconds + 5,
  });
  await sleep(seconds * 1000);
  return load.stop();
}

/** Everything the edge counted, and the CPU of everyone involved, at one moment. */
async function snapshot(pids) {
  const info = await haproxyInfo(server);
  const stat = await haproxyStat(server);
  const pid = Number(info.Pid);
  const backendRow = stat.find((r) => r.pxname === backend && r.svname === "BACKEND");
  const serverRows = stat.filter(
    (r) => r.pxname === backend && r.svname !== "BACKEND" && r.svname !== "FRONTEND",
  );
  return {
    at: performance.now(),
    pid,
    edgeTicks: processTicks(pid),
    cumReq: Number(info.CumReq),
    backendRequests: Number(backendRow?.stot ?? 0),
    // Connections the edge opened to the replica, and requests it sent on one it already had.
    serverConnects: serverRows.reduce((n, r) => n + Number(r.connect || 0), 0),
    serverReuses: serverRows.reduce((n, r) => n + Number(r.reuse || 0), 0),
    proxyTicks: processTicks(pids.proxy),
    appTicks: processTicks(pids.app),
    machine: machineTicks(),
    client: process.cpuUsage(),
  };
}

/** One window of load on one path; retried when HAProxy reloaded meanwhile (its worker changed). */
async function window(kind, target, pids) {
  for (let attempt = 1; ; attempt++) {
    const before = await snapshot(pids);
    const result = await loadFor(target, windowSeconds);
    const after = await snapshot(pids);
    if (after.pid !== before.pid) {
      progress(
        `  the edge reloaded during the window (worker ${before.pid} → ${after.pid}); again`,
      );
      if (attempt >= 3)
        throw new Error(
          "the edge reloaded during three windows in a row; is something else deploying?",
        );
      continue;
    }
    const client = process.cpuUsage(before.client);
    return {
      kind,
      seconds: (after.at - before.at) / 1000,
      records: result.records,
      summary: summarize(result.records),
      edgeCpuUs: ((after.edgeTicks - before.edgeTicks) * 1e6) / TICKS_PER_SECOND,
      cumReq: after.cumReq - before.cumReq,
      backendRequests: after.backendRequests - before.backendRequests,
      serverConnects: after.serverConnects - before.serverConnects,
      serverReuses: after.serverReuses - before.serverReuses,
      proxyCpuUs: ((after.proxyTicks - before.proxyTicks) * 1e6) / TICKS_PER_SECOND,
      appCpuUs: ((after.appTicks - before.appTicks) * 1e6) / TICKS_PER_SECOND,
      machineBusy:
        (after.machine.busy - before.machine.busy) / (after.machine.total - before.machine.total),
      clientCpuUs: client.user + client.system,
    };
  }
}

async function oneRun(index, direct, edge, pids) {
  const busy = await cpuBusy();
  progress(`run ${index}: CPUs ${percent(busy)} busy before it`);
  const results = [];
  for (let i = 0; i < windows * 2; i++) {
    interrupt.check();
    const kind = i % 2 === 0 ? "direct" : "edge";
    const w = await window(kind, kind === "direct" ? direct : edge, pids);
    progress(
      `  window ${i + 1}/${windows * 2} ${kind}: p50 ${w.summary.p50.toFixed(2)} ms, p99 ${w.summary.p99.toFixed(2)} ms, ` +
        `edge CPU ${(w.edgeCpuUs / 1000).toFixed(0)} ms for ${w.cumReq} requests, machine ${percent(w.machineBusy)} busy`,
    );
    results.push(w);
  }
  return { busy, windows: results };
}

/** What one run's windows of one kind add up to. */
function total(list) {
  const records = list.flatMap((w) => w.records);
  const sum = (pick) => list.reduce((n, w) => n + pick(w), 0);
  return {
    ...summarize(records),
    seconds: sum((w) => w.seconds),
    edgeCpuUs: sum((w) => w.edgeCpuUs),
    cumReq: sum((w) => w.cumReq),
    backendRequests: sum((w) => w.backendRequests),
    serverConnects: sum((w) => w.serverConnects),
    serverReuses: sum((w) => w.serverReuses),
    clientCpuUs: sum((w) => w.clientCpuUs),
    proxyCpuUs: sum((w) => w.proxyCpuUs),
    appCpuUs: sum((w) => w.appCpuUs),
    machineBusy: sum((w) => w.machineBusy * w.seconds) / sum((w) => w.seconds),
  };
}

function figures(run) {
  const direct = total(run.windows.filter((w) => w.kind === "direct"));
  const edge = total(run.windows.filter((w) => w.kind === "edge"));
  // The edge's background while the load went straight to the replica:
  // health checks, and whatever else it proxied meanwhile (other apps).
  const idleUsPerSecond = direct.edgeCpuUs / direct.seconds;
  const otherPerSecond = direct.cumReq / direct.seconds;
  const raw = edge.edgeCpuUs / edge.cumReq;
  const net =
    (edge.edgeCpuUs - idleUsPerSecond * edge.seconds) /
    Math.max(1, edge.cumReq - otherPerSecond * edge.seconds);
  return {
    busy: run.busy,
    direct,
    edge,
    idleUsPerSecond,
    otherPerSecond,
    raw,
    net,
    addedP99: edge.p99 - direct.p99,
  };
}

/** A port nothing listens on now, on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * The floor under the edge's figure: a bare HAProxy of the same binary and
 * thread count in front of the same replica, with one frontend, one backend
 * and one server, and nothing else (no routing rules, checks, retries or
 * logs), in `mode` http or tcp, loaded the same way. What it costs per
 * request is what proxying costs on this machine before Skiff's config.
 */
async function bareHaproxy(mode, hostPort, threads) {
  const dir = mkdtempSync(join(tmpdir(), "skiff-bench-bare-haproxy-"));
  const port = await freePort();
  const config = join(dir, "haproxy.cfg");
  const pidFile = join(dir, "haproxy.pid");
  writeFileSync(
    config,
    [
      "global",
      `    nbthread ${threads}`,
      "defaults",
      `    mode ${mode}`,
      "    timeout connect 5s",
      "    timeout client 60s",
      "    timeout server 60s",
      "frontend bare",
      `    bind 127.0.0.1:${port}`,
      "    default_backend replica",
      "backend replica",
      `    server web 127.0.0.1:${hostPort}`,
      "",
    ].join("\n"),
  );
  const started = await run("/usr/sbin/haproxy", ["-f", config, "-D", "-p", pidFile]);
  if (started.code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`the bare HAProxy did not start:\n${started.output}`);
  }
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  return {
    port,
    pid,
    stop() {
      try {
        process.kill(pid);
      } catch {}
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Windows of the same load through a bare HAProxy: its CPU per request and latencies. */
async function measureBare(mode, hostPort, threads) {
  const bare = await bareHaproxy(mode, hostPort, threads);
  try {
    const target = { port: bare.port, host: "localhost" };
    await loadFor(target, 2); // warm up
    const records = [];
    let cpuUs = 0;
    for (let i = 0; i < windows; i++) {
      interrupt.check();
      const before = processTicks(bare.pid);
      const result = await loadFor(target, windowSeconds);
      cpuUs += ((processTicks(bare.pid) - before) * 1e6) / TICKS_PER_SECOND;
      records.push(...result.records);
    }
    const summary = summarize(records);
    progress(
      `  bare HAProxy, mode ${mode}: ${(cpuUs / summary.sent).toFixed(0)} µs per request, p50 ${summary.p50.toFixed(2)} ms, p99 ${summary.p99.toFixed(2)} ms`,
    );
    return { mode, ...summary, cpuPerRequestUs: cpuUs / summary.sent };
  } finally {
    bare.stop();
  }
}

async function main() {
  const copy = await shopCopy(server, app, (dir) => {
    const file = join(dir, "compose.yaml");
    const compose = readFileSync(file, "utf8");
    const one = compose.replace("replicas: 2", "replicas: 1");
    if (one === compose)
      throw new Error(`${file}: no "replicas: 2" for web; examples/shop changed`);
    writeFileSync(file, one);
  });
  let created = false;
  try {
    progress(`app ${app}: creating and deploying (one web replica)`);
    await skiff(["apps:create", app]);
    created = true;
    await copy.push();
    const [replica] = await docker.listContainers({
      filters: { label: [`skiff.app=${app}`, "skiff.service=web"], status: ["running"] },
    });
    const hostPort = replica?.Ports.find((p) => p.PrivatePort === 3000 && p.PublicPort)?.PublicPort;
    if (!hostPort) throw new Error(`no published port of ${app}'s web replica`);
    const rows = (await haproxyStat(server)).filter(
      (r) => r.pxname === backend && r.svname !== "BACKEND",
    );
    if (rows.length !== 1 || !rows[0].status.startsWith("UP"))
      throw new Error(
        `the edge's ${backend} should have one server UP: ${rows.map((r) => `${r.svname} ${r.status}`).join(", ")}`,
      );
    const pids = {
      proxy: dockerProxyPid(hostPort),
      app: (await docker.getContainer(replica.Id).inspect()).State.Pid,
    };
    if (!pids.proxy)
      throw new Error(
        `no docker-proxy for port ${hostPort}; this bench expects dockerd's userland proxy`,
      );
    const direct = { port: hostPort, host: "localhost" };
    const edge = { port: server.edgePort, host: `${app}.localhost` };
    progress(
      `direct: 127.0.0.1:${hostPort}; edge: 127.0.0.1:${server.edgePort} Host ${edge.host} (server ${rows[0].svname}, ${rows[0].addr})`,
    );
    // Warm both paths (connections, JIT, HAProxy's server connections).
    for (const target of [direct, edge]) {
      await sleep(1000);
      await loadFor(target, 2);
    }
    const results = [];
    for (let i = 1; i <= runs; i++) results.push(await oneRun(i, direct, edge, pids));
    const threads = Number((await haproxyInfo(server)).Nbthread) || 1;
    progress(`reference: a bare HAProxy with ${threads} thread(s) in front of the same replica`);
    const reference = [];
    for (const mode of ["http", "tcp"]) reference.push(await measureBare(mode, hostPort, threads));
    return { results, reference, threads };
  } finally {
    if (created) await destroyApp(app);
    copy.remove();
  }
}

function report({ results, reference, threads }, machine) {
  const runsFigures = results.map(figures);
  const n = runsFigures.length;
  const med = (pick) => median(runsFigures.map(pick));
  const ms = (v) => `${v.toFixed(2)} ms`;
  const us = (v) => `${v.toFixed(0)} µs`;
  const signed = (v, unit) => `${v >= 0 ? "+" : ""}${v.toFixed(2)} ${unit}`;
  const cpuNet = med((f) => f.net);
  const cpuRaw = med((f) => f.raw);
  const addedP99 = med((f) => f.addedP99);
  const verdict = (ok) => (ok ? "**met**" : "**not met**");
  const lines = [
    machine,
    "",
    `Load: ${rate} GET/s of \`/healthz\` (keep-alive, ${CONNECTIONS} connections, a minimal HTTP/1.1 client), ` +
      `per run ${windows * 2} windows of ${windowSeconds} s alternating direct and through the edge ` +
      `(${windows * windowSeconds} s per path), one web replica; ${n} run${n === 1 ? "" : "s"}, medians over runs.`,
    "",
    `| median of ${n} | requests per run | failed | p50 | p99 | p99.9 | max |`,
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const [label, pick] of [
    ["direct to the replica's published port", (f) => f.direct],
    ["through the edge", (f) => f.edge],
  ]) {
    lines.push(
      `| ${label} | ${med((f) => pick(f).sent)} | ${med((f) => pick(f).sent - pick(f).ok)} | ${ms(med((f) => pick(f).p50))} | ${ms(med((f) => pick(f).p99))} | ${ms(med((f) => pick(f).p999))} | ${ms(med((f) => pick(f).max))} |`,
    );
  }
  lines.push(
    `| **added by the edge** | | | ${signed(
      med((f) => f.edge.p50 - f.direct.p50),
      "ms",
    )} | **${signed(addedP99, "ms")}** | ${signed(
      med((f) => f.edge.p999 - f.direct.p999),
      "ms",
    )} | |`,
    "",
    `Edge CPU per proxied request: **${us(cpuNet)}** net of its idle work, ${us(cpuRaw)} raw (median of ${n} runs).`,
    "",
    `Targets: ≤ ${TARGET_CPU_US} µs of edge CPU per request: ${verdict(cpuNet <= TARGET_CPU_US)} (${us(cpuNet)}); ` +
      `≤ ${TARGET_ADDED_P99_MS} ms added p99: ${verdict(addedP99 <= TARGET_ADDED_P99_MS)} (${signed(addedP99, "ms")}).`,
    "",
    "CPU per request of each process on the path (median of the runs; /proc utime + stime over the requests the client sent):",
    "",
    "| path | load generator | HAProxy worker | docker-proxy (the published port) | app replica (node) |",
    "|---|---:|---:|---:|---:|",
  );
  for (const [label, pick] of [
    ["direct", (f) => f.direct],
    ["through the edge", (f) => f.edge],
  ]) {
    const per = (field) => us(med((f) => pick(f)[field] / pick(f).sent));
    lines.push(
      `| ${label} | ${per("clientCpuUs")} | ${label === "direct" ? `(${per("edgeCpuUs")}: health checks, other traffic)` : per("edgeCpuUs")} | ${per("proxyCpuUs")} | ${per("appCpuUs")} |`,
    );
  }
  lines.push(
    "",
    "Each run:",
    "",
    "| run | CPUs busy before | p99 direct / edge | edge worker CPU in the edge windows | requests the edge counted (CumReq / the app's backend / client sent) | edge background (direct windows): CPU, other requests | **edge CPU per request**, net (raw) | new connections to the replica per request | machine CPU busy (direct / edge windows) |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  runsFigures.forEach((f, i) => {
    lines.push(
      `| ${i + 1} | ${percent(f.busy)} | ${ms(f.direct.p99)} / ${ms(f.edge.p99)} | ${(f.edge.edgeCpuUs / 1000).toFixed(0)} ms in ${f.edge.seconds.toFixed(1)} s | ${f.edge.cumReq} / ${f.edge.backendRequests} / ${f.edge.sent} | ${(f.idleUsPerSecond / 1000).toFixed(1)} ms/s, ${f.otherPerSecond.toFixed(1)} req/s | ${us(f.net)} (${us(f.raw)}) | ${(f.edge.serverConnects / Math.max(1, f.edge.backendRequests)).toFixed(3)} | ${percent(f.direct.machineBusy)} / ${percent(f.edge.machineBusy)} |`,
    );
  });
  lines.push(
    "",
    `For reference, in the same run: a bare HAProxy (the same binary, ${threads} thread${threads === 1 ? "" : "s"}; one frontend, one backend, one server: the same replica's port; no routing rule, check, retry or log), ${windows} windows of ${windowSeconds} s at the same rate:`,
    "",
    "| bare HAProxy | requests | failed | p50 | p99 | HAProxy CPU per request |",
    "|---|---:|---:|---:|---:|---:|",
    ...reference.map(
      (r) =>
        `| mode ${r.mode} | ${r.sent} | ${r.sent - r.ok} | ${ms(r.p50)} | ${ms(r.p99)} | ${us(r.cpuPerRequestUs)} |`,
    ),
  );
  lines.push(
    "",
    `CPU times come from /proc in ticks of ${1000 / TICKS_PER_SECOND} ms, so each window's figure is exact to ±${1000 / TICKS_PER_SECOND} ms; over ${windows * windowSeconds} s at ${rate} req/s that is ±${(((windows * 2 * 1000) / TICKS_PER_SECOND / (rate * windows * windowSeconds)) * 1000).toFixed(1)} µs per request.`,
  );
  return `${lines.join("\n")}\n`;
}

await runBench("edge-overhead", { server, options, interrupt }, main, report);
