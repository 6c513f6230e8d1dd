#!/usr/bin/env node
// bench/edge-config-cost: what each part of the edge's HAProxy config costs
// in CPU per proxied request, against a bare HAProxy, side by side.
//
//   node bench/edge-config-cost.mjs [--rate N] [--seconds S] [--rounds R] [--only IDS] [--write] [--json]
//
// Needs no Docker and no Skiff server, only HAProxy and the built dist/
// (npm run build). One replica (a small Node.js HTTP server in a process of
// its own on 127.0.0.1) stands behind several HAProxy processes at once,
// each in master-worker mode with the same thread count, each on its own
// 127.0.0.1 port:
// - "bare": one frontend, one backend, one server, the same log settings
//   as the edge (HAProxy's own notices to stderr), nothing else;
// - "edge": the config Skiff renders (src/edge/config-render.ts) for one
//   app with one server, exactly as a reload writes it;
// - one variant of the edge's config per part of it (the domain map lookup,
//   the X-Forwarded headers, L7 retries, health checks, logging, ...) with
//   that part toggled: taken out when Skiff renders it, put in when it does
//   not (the parts Skiff dropped, to show what they cost).
// Each round sends the same fixed-rate keep-alive GETs of /healthz (open
// loop, 8 connections, bench/lib/load.mjs rawLoad, Host of the app) to each
// HAProxy in turn, the order rotating from round to round, and reads the
// worker's CPU (utime + stime, /proc/PID/stat) before and after its window.
// A variant's figure is its CPU over the requests sent, net of its idle
// work (health checks) measured while the others had the load; its ratio to
// bare is taken round by round, and the median over rounds is reported, so
// a drift of the machine's speed cancels out. The load generator's own CPU
// per request and the machine's busy share are reported too, to show the
// client was not the bottleneck.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { rawLoad, summarize } from "./lib/load.mjs";
import {
  cliCommand,
  defaultThreads,
  freePort,
  localMachineLine,
  startHaproxy,
  startReplica,
} from "./lib/local-edge.mjs";
import {
  benchArgs,
  cpuBusy,
  machineTicks,
  median,
  onInterrupt,
  percent,
  processTicks,
  progress,
  runBench,
  TICKS_PER_SECOND,
} from "./lib/platform.mjs";

const CONNECTIONS = 8;
const HOST = "bench.localhost";
const BACKEND = "app_bench__web";

const { options, usage } = benchArgs(
  "node bench/edge-config-cost.mjs [--rate N] [--seconds S] [--rounds R] [--only IDS] [--write] [--json]",
  {
    rate: { type: "string", default: "500" },
    seconds: { type: "string", default: "5" },
    rounds: { type: "string", default: "5" },
    only: { type: "string", default: "" },
    json: { type: "boolean", default: false },
  },
);
const rate = Number(options.rate);
const windowSeconds = Number(options.seconds);
const rounds = Number(options.rounds);
if (!(rate >= 1 && rate <= 4000)) usage("--rate takes 1 to 4000 requests per second");
if (!(windowSeconds >= 1 && windowSeconds <= 60)) usage("--seconds takes 1 to 60");
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) usage("--rounds takes 1 to 20");
const interrupt = onInterrupt();

let render;
let plan;
try {
  render = await import("../dist/edge/config-render.js");
  plan = await import("../dist/edge/edge-plan.js");
} catch (error) {
  usage(`cannot load dist/edge/config-render.js (${error.message}): run npm run build first`);
}

/** Replaces `from` by `to` in `text`; throws when `from` is not there (the renderer changed). */
function replace(text, from, to) {
  if (!text.includes(from)) {
    throw new Error(
      `the rendered config has no ${JSON.stringify(from.slice(0, 80))}; update bench/edge-config-cost.mjs`,
    );
  }
  return text.replace(from, to);
}

/**
 * The parts of the edge's config, each as two texts: `on` where the part is
 * in the config, `off` where it is not. A variant turns one part the other
 * way from how Skiff renders it now: out when the rendered config has every
 * `on` text, in when it has every `off` text (the parts Skiff dropped, to
 * show what they cost; `dropped` marks those). `off` texts are unique
 * anchors in the config, so a part can be put back where it was.
 */
function toggles(files, replica) {
  const server = `127.0.0.1:${replica.port}`;
  const lookup = "req.hdr(host),field(1,:),lower";
  return [
    {
      id: "httplog",
      dropped: true,
      part: "per-request logging as Skiff had it: `log global`, `option httplog` and `option dontlognull` in defaults (lines built, then dropped by the `notice` level)",
      on: [
        [
          "    mode http\n    log global\n    option httplog\n    option dontlognull\n",
          "    mode http\n",
        ],
      ],
    },
    {
      id: "logglobal",
      dropped: true,
      part: "`log global` alone in defaults (HAProxy's default log format built per request)",
      on: [["    mode http\n    log global\n", "    mode http\n"]],
      alone: true,
    },
    {
      id: "setvar",
      dropped: true,
      part: "the Host in a variable (`set-var`) before the map lookup, as Skiff had it",
      on: [
        [
          `    http-request set-var(txn.skiff_host) ${lookup}\n    use_backend %[var(txn.skiff_host),map(${files.map})]\n`,
          `    use_backend %[${lookup},map(${files.map})]\n`,
        ],
      ],
    },
    {
      id: "routing",
      part: "routing by Host through the domain map (against a fixed `default_backend`)",
      on: [
        [
          `    use_backend %[${lookup},map(${files.map})]\n    default_backend skiff_not_found\n`,
          `    default_backend ${BACKEND}\n`,
        ],
      ],
    },
    {
      id: "forwarded",
      part: "the X-Forwarded-For/Proto/Host and X-Real-IP headers (4 `set-header`, 1 `del-header`)",
      on: [[render.FORWARDED_HEADERS, ""]],
    },
    {
      id: "l7retry",
      part: "L7 retries of idempotent requests (`retry-on ... empty-response 502 503 504` and its `disable-l7-retry` rule)",
      on: [
        [
          "    retry-on conn-failure empty-response 502 503 504\n    http-request disable-l7-retry unless METH_GET or METH_OPTIONS or METH_PUT or METH_DELETE or METH_TRACE\n",
          "",
        ],
      ],
    },
    {
      id: "redispatch",
      part: "`retries 3` and `option redispatch 1`",
      on: [["    retries 3\n    option redispatch 1\n", ""]],
    },
    {
      id: "checks",
      part: "health checks (`option httpchk`, a check a second)",
      on: [
        [
          `    option httpchk\n    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host ${HOST}\n    http-check expect status 200-399\n`,
          "",
        ],
        [`${server} ${render.SERVER_CHECK}`, server],
      ],
    },
    {
      id: "pool",
      part: "`pool-max-conn -1 pool-purge-delay 5s` on the server (HAProxy's defaults for a server in the file)",
      on: [[` ${render.SERVER_POOL}`, ""]],
    },
    {
      id: "idleclose",
      part: "`option idle-close-on-response`",
      on: [["    option idle-close-on-response\n", ""]],
    },
    {
      id: "stats",
      part: "the stats socket (runtime API) and the stats page frontend",
      on: [
        [
          `    stats socket ${files.runtimeSocket} mode 600 level admin expose-fd listeners\n    stats timeout 30s\n`,
          "",
        ],
        [
          `frontend skiff_stats\n    bind 127.0.0.1:${files.statsPort}\n    stats enable\n    stats uri /\n    stats refresh 10s\n    stats show-legends\n\n`,
          "",
        ],
      ],
    },
    {
      id: "serverclose",
      part: "`option http-server-close` (a new connection to the replica per request; Skiff does not set it)",
      on: [
        [
          "    option idle-close-on-response\n    option http-server-close\n",
          "    option idle-close-on-response\n",
        ],
      ],
    },
  ];
}

/** The config with one part toggled, and what the variant changes. */
function toggled(config, toggle) {
  let text = config;
  if (toggle.on.every(([on]) => text.includes(on))) {
    for (const [on, off] of toggle.on) text = replace(text, on, off);
    return { text, change: `without ${toggle.part}` };
  }
  if (toggle.on.every(([, off]) => off === "" || text.includes(off))) {
    for (const [on, off] of toggle.on) {
      if (off === "") throw new Error(`${toggle.id}: cannot put a part back without an anchor`);
      text = replace(text, off, on);
    }
    return { text, change: `with ${toggle.part}` };
  }
  throw new Error(
    `${toggle.id}: the rendered config has neither form of it; update bench/edge-config-cost.mjs`,
  );
}

/**
 * The reference: one frontend, one backend, one server, and the edge's log
 * settings (HAProxy's own messages to stderr, no per-request log line).
 */
function bareConfig(port, threads, replicaPort) {
  return [
    "global",
    `    nbthread ${threads}`,
    render.LOGGING.trimEnd(),
    "defaults",
    "    mode http",
    "    timeout connect 5s",
    "    timeout client 60s",
    "    timeout server 60s",
    "frontend bare",
    `    bind 127.0.0.1:${port}`,
    "    default_backend replica",
    "backend replica",
    `    server web 127.0.0.1:${replicaPort}`,
    "",
  ].join("\n");
}

async function setUp(dir, replica, threads) {
  const map = join(dir, "domains.map");
  const notFound = join(dir, "not-found.html");
  writeFileSync(map, `${HOST} ${BACKEND}\n`);
  writeFileSync(notFound, render.NOT_FOUND_PAGE);
  const variants = [];
  const barePort = await freePort();
  variants.push({
    id: "bare",
    change: `bare HAProxy: one frontend, one backend, one server; ${threads} threads; the edge's log settings`,
    port: barePort,
    text: bareConfig(barePort, threads, replica.port),
  });
  const servers = [
    { name: "r1-1", address: { host: "127.0.0.1", port: replica.port }, checked: true },
  ];
  const edgeConfig = async (id, withServers = true) => {
    const files = {
      map,
      runtimeSocket: join(dir, `${id}.sock`),
      statsPort: await freePort(),
      httpPort: await freePort(),
    };
    const text = render.renderEdgeConfig({
      httpPort: files.httpPort,
      statsPort: files.statsPort,
      runtimeSocket: files.runtimeSocket,
      domainMapFile: map,
      notFoundPageFile: notFound,
      backends: [
        {
          name: BACKEND,
          healthPath: "/healthz",
          healthHost: HOST,
          servers: withServers ? servers : [],
        },
      ],
    });
    return { files, text };
  };
  const edge = await edgeConfig("edge");
  variants.push({
    id: "edge",
    change: "the edge's config as Skiff renders it",
    port: edge.files.httpPort,
    text: edge.text,
  });
  const same = await edgeConfig("same");
  variants.push({
    id: "same",
    change:
      "the same config again, in another HAProxy (what the method reads as a difference when there is none)",
    port: same.files.httpPort,
    text: same.text,
  });
  // As a deploy leaves it: the backend from the file, its server added
  // through the runtime API with the router's own commands.
  const runtime = await edgeConfig("runtime", false);
  const addition = plan.planEdgeChanges(
    {
      backends: [{ name: BACKEND, healthPath: "/healthz", healthHost: HOST, servers }],
      domains: new Map([[HOST, BACKEND]]),
    },
    { backends: [BACKEND], servers: [], domains: new Map([[HOST, BACKEND]]) },
    map,
  ).backends[0].add[0];
  variants.push({
    id: "runtime",
    change: "the edge's config with its server added through the runtime API, as a deploy adds it",
    port: runtime.files.httpPort,
    text: runtime.text,
    runtimeSocket: runtime.files.runtimeSocket,
    commands: [...addition.create, ...addition.admit],
  });
  const only = options.only ? new Set(options.only.split(",")) : undefined;
  const dropped = [];
  for (const toggle of toggles(edge.files, replica)) {
    if (only && !only.has(toggle.id)) continue;
    const own = await edgeConfig(toggle.id);
    const variant = toggled(
      own.text,
      toggles(own.files, replica).find((t) => t.id === toggle.id),
    );
    if (toggle.dropped && !toggle.alone && variant.change.startsWith("with "))
      dropped.push(toggle.id);
    variants.push({
      id: toggle.id,
      change: variant.change,
      port: own.files.httpPort,
      text: variant.text,
    });
  }
  if (dropped.length > 1) {
    // Every dropped part back at once: the config as Skiff rendered it before.
    const own = await edgeConfig("before");
    let text = own.text;
    for (const id of dropped)
      text = toggled(
        text,
        toggles(own.files, replica).find((t) => t.id === id),
      ).text;
    variants.push({
      id: "before",
      change: `the edge's config as Skiff rendered it before (${dropped.join(", ")} put back)`,
      port: own.files.httpPort,
      text,
    });
  }
  for (const variant of variants) {
    variant.configFile = join(dir, `${variant.id}.cfg`);
    writeFileSync(variant.configFile, variant.text);
  }
  return variants;
}

async function measure() {
  const threads = defaultThreads();
  const dir = mkdtempSync(join(tmpdir(), "skiff-bench-config-cost-"));
  const replica = await startReplica("r1-1");
  const running = [];
  try {
    const variants = await setUp(dir, replica, threads);
    for (const variant of variants) {
      const haproxy = await startHaproxy({
        configFile: variant.configFile,
        masterSocket: join(dir, `${variant.id}-master.sock`),
        logFile: join(dir, `${variant.id}.log`),
      });
      running.push(haproxy);
      variant.haproxy = haproxy;
      for (const command of variant.commands ?? []) {
        const answer = await cliCommand(variant.runtimeSocket, command);
        if (/^\[[0-3]\]|No such|Unknown|error/i.test(answer.trim())) {
          throw new Error(`HAProxy refused "${command}": ${answer.trim()}`);
        }
      }
    }
    const [bare, edge, ...toggled] = variants;
    progress(
      `${variants.length} HAProxy processes (${threads} threads each) in front of one replica on 127.0.0.1:${replica.port}`,
    );
    const busy = await cpuBusy();
    progress(`CPUs ${percent(busy)} busy before the load`);
    // Idle work (health checks, timers): every HAProxy without load, at once.
    const idle = await windowOf(variants, windowSeconds, false);
    const idleUsPerSecond = Object.fromEntries(
      variants.map((v) => [v.id, idle.targets[v.id].cpuUs / idle.seconds]),
    );
    // Warm up every HAProxy (connections, pools), bare and edge with each.
    for (const variant of toggled.length > 0 ? toggled : [edge]) {
      interrupt.check();
      await windowOf([bare, edge, variant], 2);
    }
    const windows = [];
    for (let round = 0; round < rounds; round++) {
      for (const variant of toggled.length > 0 ? toggled : [undefined]) {
        interrupt.check();
        // The order the loads start in rotates, so no HAProxy is always first.
        const trio = variant ? [bare, edge, variant] : [bare, edge];
        const group = trio.map((_, i) => trio[(i + windows.length) % trio.length]);
        const w = await windowOf(group, windowSeconds);
        w.round = round;
        w.variant = variant?.id;
        windows.push(w);
        const per = (id) => netPerRequest(w.targets[id], idleUsPerSecond[id], w.seconds).toFixed(0);
        progress(
          `round ${round + 1}/${rounds}${variant ? ` ${variant.id}` : ""}: bare ${per("bare")}, edge ${per("edge")}${variant ? `, ${variant.id} ${per(variant.id)}` : ""} µs per request; machine ${percent(w.machineBusy)} busy`,
        );
      }
    }
    return {
      threads,
      busy,
      idleUsPerSecond,
      variants: variants.map(({ id, change, text }) => ({ id, change, config: text })),
      windows,
    };
  } finally {
    for (const haproxy of running) await haproxy.stop();
    replica.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One window: the same load on each HAProxy of `group` at once (so they
 * share whatever else the machine does), or none with `load` false. Each
 * worker's CPU over the window, the requests sent to it, and the client's
 * and the machine's CPU.
 */
async function windowOf(group, seconds, load = true) {
  const before = {
    ticks: Object.fromEntries(group.map((v) => [v.id, processTicks(v.haproxy.worker)])),
    at: performance.now(),
    machine: machineTicks(),
    client: process.cpuUsage(),
  };
  const loads = load
    ? group.map((v) =>
        rawLoad({
          port: v.port,
          host: HOST,
          path: "/healthz",
          rate,
          connections: CONNECTIONS,
          maxSeconds: seconds + 5,
        }),
      )
    : [];
  await sleep(seconds * 1000);
  const results = await Promise.all(loads.map((l) => l.stop()));
  const elapsed = (performance.now() - before.at) / 1000;
  const machine = machineTicks();
  const client = process.cpuUsage(before.client);
  const targets = {};
  for (const [i, v] of group.entries()) {
    const ticks = processTicks(v.haproxy.worker) - before.ticks[v.id];
    const summary = results[i] ? summarize(results[i].records) : { sent: 0, ok: 0 };
    targets[v.id] = {
      cpuUs: (ticks * 1e6) / TICKS_PER_SECOND,
      sent: summary.sent,
      ok: summary.ok,
      p50: summary.p50,
      p99: summary.p99,
    };
  }
  const sent = Object.values(targets).reduce((n, t) => n + t.sent, 0);
  return {
    seconds: elapsed,
    targets,
    clientUsPerRequest: sent > 0 ? (client.user + client.system) / sent : 0,
    clientShareOfCore: (client.user + client.system) / 1e6 / elapsed,
    machineBusy: (machine.busy - before.machine.busy) / (machine.total - before.machine.total),
  };
}

function netPerRequest(target, idleUsPerSecond, seconds) {
  return (target.cpuUs - idleUsPerSecond * seconds) / Math.max(1, target.sent);
}

/** One variant's figures over the windows it had load in. */
function figures(measured, id) {
  const windows = measured.windows.filter((w) => w.targets[id]);
  const idle = measured.idleUsPerSecond[id];
  const net = (w, v) => netPerRequest(w.targets[v], measured.idleUsPerSecond[v], w.seconds);
  const sum = (pick) => windows.reduce((n, w) => n + pick(w), 0);
  const sent = sum((w) => w.targets[id].sent);
  const toBare = windows.map((w) => net(w, id) / net(w, "bare"));
  const vsEdge = windows.map((w) => net(w, id) - net(w, "edge"));
  return {
    windows: windows.length,
    sent,
    failed: sent - sum((w) => w.targets[id].ok),
    net: (sum((w) => w.targets[id].cpuUs) - idle * sum((w) => w.seconds)) / Math.max(1, sent),
    ratio: median(toBare),
    ratioMin: Math.min(...toBare),
    ratioMax: Math.max(...toBare),
    vsEdge: median(vsEdge),
    p50: median(windows.map((w) => w.targets[id].p50)),
    p99: median(windows.map((w) => w.targets[id].p99)),
  };
}

function report(measured, machine) {
  if (options.json) return `${JSON.stringify(measured, null, 2)}\n`;
  const us = (v) => `${v.toFixed(0)} µs`;
  const signed = (v) => `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(0)} µs`;
  const perWindow = measured.windows.length / Math.max(1, rounds);
  const lines = [
    machine,
    "",
    `Load: ${rate} GET/s of \`/healthz\` to each HAProxy of a window at once (keep-alive, ${CONNECTIONS} connections each, a minimal HTTP/1.1 client, open loop, the app's Host). Each window of ${windowSeconds} s loads the bare HAProxy, the edge's config and one variant together; ${rounds} rounds of ${perWindow} windows. All HAProxy processes: ${measured.threads} threads, master-worker, the same replica. CPU per request is the worker's utime + stime over the requests sent to it, net of its idle work; each ratio and difference is taken within a window (same moment, same machine load), and the median over windows is reported. CPUs ${percent(measured.busy)} busy before the load.`,
    "",
    "| configuration | HAProxy CPU per request | × bare (median; min–max) | against the edge's config (median of windows) | requests | failed | p50 | p99 |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const variant of measured.variants) {
    const f = figures(measured, variant.id);
    const fixed = variant.id === "bare" || variant.id === "edge";
    lines.push(
      `| ${fixed ? `**${variant.change}**` : variant.change} | ${us(f.net)} | ${f.ratio.toFixed(2)} × (${f.ratioMin.toFixed(2)}–${f.ratioMax.toFixed(2)}) | ${fixed ? "" : signed(f.vsEdge)} | ${f.sent} | ${f.failed} | ${f.p50.toFixed(2)} ms | ${f.p99.toFixed(2)} ms |`,
    );
  }
  const loaded = measured.windows;
  lines.push(
    "",
    `The load generator: ${us(median(loaded.map((w) => w.clientUsPerRequest)))} of CPU per request, ${percent(median(loaded.map((w) => w.clientShareOfCore)))} of one core per window (median), and the machine ${percent(median(loaded.map((w) => w.machineBusy)))} busy during the windows (medians).`,
    `Idle work subtracted (health checks, timers; every HAProxy without load for ${windowSeconds} s): ${measured.variants.map((v) => `${v.id} ${(measured.idleUsPerSecond[v.id] / 1000).toFixed(1)} ms/s`).join(", ")}.`,
    `CPU times come from /proc in ticks of ${1000 / TICKS_PER_SECOND} ms: one window's figure is exact to ±${((2 * 1e6) / TICKS_PER_SECOND / (rate * windowSeconds)).toFixed(0)} µs per request, a variant's total over ${rounds} windows to about ±${((2 * 1e6) / TICKS_PER_SECOND / (rate * windowSeconds * rounds)).toFixed(1)} µs.`,
  );
  return `${lines.join("\n")}\n`;
}

await runBench(
  "edge-config-cost",
  { machine: localMachineLine, options, interrupt },
  measure,
  report,
);
