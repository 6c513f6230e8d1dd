#!/usr/bin/env node
// bench/edge-overhead: what the edge (HAProxy) adds to a request.
//
//   node bench/edge-overhead.mjs [--rate N] [--seconds S] [--write]
//
// Deploys a copy of examples/shop scaled to one web replica, then sends a
// fixed rate of keep-alive GETs of /healthz (answered by web alone) in
// alternating windows: straight to the replica's port published on
// 127.0.0.1, and through the edge with the app's Host header. Same
// container, same rate, same client, same run. Reports p50/p99 latency of
// both, and the edge worker's CPU time per proxied request (utime + stime
// of the HAProxy worker from /proc/PID/stat, over the requests HAProxy
// itself counted: `show info` CumReq). Targets: ≤ 60 µs of edge CPU per
// request, ≤ 2 ms added p99. The app is destroyed at the end.

import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import Docker from "dockerode";
import { fixedRateLoad, percentile } from "./lib/load.mjs";
import {
  cpuBusy,
  git,
  gitEnv,
  machineLine,
  progress,
  ROOT,
  remoteOf,
  serverConfig,
  skiff,
  writeSection,
} from "./lib/platform.mjs";

const { values: options } = parseArgs({
  options: {
    rate: { type: "string", default: "500" },
    seconds: { type: "string", default: "10" },
    write: { type: "boolean", default: false },
  },
});
const rate = Number(options.rate);
const windowSeconds = Number(options.seconds);
const WINDOWS = 4;

const server = serverConfig();
const docker = new Docker({ socketPath: "/var/run/docker.sock" });
const app = `bench-edge-${Math.random().toString(16).slice(2, 8)}`;
const root = mkdtempSync(join(tmpdir(), "skiff-bench-edge-"));
const TICKS_PER_SECOND = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());

/** One command on HAProxy's runtime API socket. */
function runtime(command) {
  return new Promise((resolve, reject) => {
    const socket = createConnection(join(server.home, "run", "haproxy.sock"));
    let text = "";
    socket.on("connect", () => socket.end(`${command}\n`));
    socket.on("data", (chunk) => (text += chunk));
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}

async function edgeCounters() {
  const info = Object.fromEntries(
    (await runtime("show info"))
      .split("\n")
      .map((line) => line.split(": "))
      .filter((parts) => parts.length === 2),
  );
  const pid = Number(info.Pid);
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of /proc/PID/stat, 12 and 13 after the name.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { pid, ticks, requests: Number(info.CumReq) };
}

async function window(target) {
  const cpuBefore = process.cpuUsage();
  const edgeBefore = await edgeCounters();
  const load = fixedRateLoad({ ...target, path: "/healthz", rate, connections: 8 });
  await new Promise((resolve) => setTimeout(resolve, windowSeconds * 1000));
  const result = await load.stop();
  const edgeAfter = await edgeCounters();
  const cpu = process.cpuUsage(cpuBefore);
  if (edgeAfter.pid !== edgeBefore.pid) throw new Error("the edge worker changed during a window");
  return {
    result,
    edgeCpuUs: ((edgeAfter.ticks - edgeBefore.ticks) * 1e6) / TICKS_PER_SECOND,
    edgeRequests: edgeAfter.requests - edgeBefore.requests,
    clientCpuUs: cpu.user + cpu.system,
  };
}

async function main() {
  const busy = await cpuBusy();
  progress(`app ${app}; CPUs ${(busy * 100).toFixed(0)} % busy before the run`);
  const dir = join(root, "src");
  const env = gitEnv(join(root, "home"));
  cpSync(join(ROOT, "examples", "shop"), dir, { recursive: true });
  await git(["init", "-q", "-b", "main"], { cwd: dir, env });
  await git(["add", "-A"], { cwd: dir, env });
  await git(["commit", "-q", "-m", "first"], { cwd: dir, env });
  await skiff(["apps:create", app]);
  await git(["push", remoteOf(server, app), "main"], { cwd: dir, env, secret: server.token });
  await skiff(["scale", app, "web=1"]);
  const [replica] = await docker.listContainers({
    filters: { label: [`skiff.app=${app}`, "skiff.service=web"], status: ["running"] },
  });
  const hostPort = replica?.Ports.find((p) => p.PrivatePort === 3000 && p.PublicPort)?.PublicPort;
  if (!hostPort) throw new Error("no published port for the web replica");
  const direct = { port: hostPort, host: "localhost" };
  const edge = { port: server.edgePort, host: `${app}.localhost` };
  // Warm both paths (connections, JIT) before measuring.
  await fixedRateLoad({ ...direct, path: "/healthz", rate: 100 }).stop();
  const windows = { direct: [], edge: [] };
  for (let i = 0; i < WINDOWS * 2; i++) {
    const kind = i % 2 === 0 ? "direct" : "edge";
    progress(`window ${i + 1} of ${WINDOWS * 2}: ${kind}, ${rate} req/s for ${windowSeconds} s`);
    windows[kind].push(await window(kind === "direct" ? direct : edge));
  }
  return { busy, windows };
}

function summarise(list) {
  const latencies = list.flatMap((w) => w.result.latenciesMs);
  const sent = list.reduce((n, w) => n + w.result.sent, 0);
  const failed = sent - list.reduce((n, w) => n + (w.result.byStatus["2xx"] ?? 0), 0);
  return {
    sent,
    failed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    edgeCpuUs: list.reduce((n, w) => n + w.edgeCpuUs, 0),
    edgeRequests: list.reduce((n, w) => n + w.edgeRequests, 0),
    clientCpuPerRequestUs: list.reduce((n, w) => n + w.clientCpuUs, 0) / sent,
  };
}

function report({ busy, windows }, machine) {
  const direct = summarise(windows.direct);
  const edge = summarise(windows.edge);
  const cpuPerRequest = edge.edgeCpuUs / edge.edgeRequests;
  const addedP99 = edge.p99 - direct.p99;
  const verdict = (ok) => (ok ? "**met**" : "**not met**");
  return [
    machine,
    "",
    `Load: ${rate} GET/s of \`/healthz\` (keep-alive, 8 connections), ${WINDOWS * 2} windows of ${windowSeconds} s alternating direct and through the edge, one web replica. CPUs ${(busy * 100).toFixed(0)} % busy before the run.`,
    "",
    "| path | requests | failed | p50 | p99 | load generator CPU per request |",
    "|---|---:|---:|---:|---:|---:|",
    `| direct to the replica's port | ${direct.sent} | ${direct.failed} | ${direct.p50.toFixed(2)} ms | ${direct.p99.toFixed(2)} ms | ${direct.clientCpuPerRequestUs.toFixed(0)} µs |`,
    `| through the edge | ${edge.sent} | ${edge.failed} | ${edge.p50.toFixed(2)} ms | ${edge.p99.toFixed(2)} ms | ${edge.clientCpuPerRequestUs.toFixed(0)} µs |`,
    "",
    `Edge worker CPU: ${(edge.edgeCpuUs / 1000).toFixed(0)} ms for ${edge.edgeRequests} requests HAProxy counted (CumReq; the client sent ${edge.sent}) = **${cpuPerRequest.toFixed(1)} µs per request** (/proc ticks are ${1000 / TICKS_PER_SECOND} ms, so the total is exact to about ±${((2 * 1000) / TICKS_PER_SECOND).toFixed(0)} ms). The edge's idle CPU (health checks every second) is inside this figure.`,
    "",
    `Targets: ≤ 60 µs of edge CPU per request: ${verdict(cpuPerRequest <= 60)} (${cpuPerRequest.toFixed(1)} µs); ≤ 2 ms added p99: ${verdict(addedP99 <= 2)} (${addedP99 >= 0 ? "+" : ""}${addedP99.toFixed(2)} ms; p50 ${edge.p50 - direct.p50 >= 0 ? "+" : ""}${(edge.p50 - direct.p50).toFixed(2)} ms).`,
  ].join("\n");
}

const command = `node bench/edge-overhead.mjs${options.write ? " --write" : ""}`;
try {
  const measured = await main();
  const markdown = report(measured, await machineLine(command));
  process.stdout.write(`${markdown}\n`);
  if (options.write) writeSection("bench/edge-overhead", markdown);
} finally {
  await skiff(["apps:destroy", app, "--confirm", app], { allowFailure: true });
  rmSync(root, { recursive: true, force: true });
}
