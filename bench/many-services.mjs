#!/usr/bin/env node
// bench/many-services: does a deploy of an app with many independent
// services take about as long as one with a single service?
//
//   node bench/many-services.mjs [--services N] [--reps N] [--kinds web,worker] [--big N]
//                                [--fail-after S] [--stable-for DURATION] [--json]
//
// Runs a Skiff installation of its own (bench/lib/platform.mjs
// sandboxServer: `skiff server` in a temporary SKIFF_HOME, with its own
// registry and HAProxy on free 127.0.0.1 ports) against the host's Docker
// Engine. Every service runs the busybox test image (skiff-test/busybox:1,
// imported from Debian's busybox-static when missing) as an `image:`
// service, so no service is built; each replica is limited to 16 MB.
//   web:    `httpd` serving /ok.txt ("ok REV"), routed by the edge at
//           sNNN.APP.localhost, health: GET /ok.txt every 250 ms;
//   worker: `sleep`, healthy once it ran x-skiff.health.stable_for (1 s
//           here, not the default 5 s) without exiting.
// No service depends on another, so the deploy core starts, health-checks
// and switches the edge for all of them at once.
//
// 1. Side by side, for each kind of --kinds (web, then worker: one kind per
//    app, so that 1 and N services wait for the same health check), an app
//    of 1 service and one of --services (20) services: a first deploy each,
//    then --reps deploys each (the app that goes first alternates) that
//    change the environment variable REV of every
//    service, so every replica is replaced. Each is `skiff deploy DIR --app
//    APP`; the figures come from the run record (GET /api/v1/apps/APP/runs/N:
//    the deploy stage's durationMs, and the whole run from createdAt to
//    finishedAt) and its events (start → last replica healthy → edge
//    switched). Before the next deploy the bench waits until the old
//    replicas are gone. Target: N-service deploy stage ≤ 2 × 1-service.
// 2. An app of --big (200) services, odd ones web and even ones workers:
//    one deploy, then one whose last
//    service (a worker) exits --fail-after (10) s after it starts, so the
//    deploy fails and every new replica is rolled back. Reported: both
//    times, that neither timed out, the rollback's own time (from the
//    "rolling back" line to the end of the deploy stage), that the first
//    release still serves (GET through the edge to s001) and that no
//    container of the failed release remains.
// Everything made is removed at the end, also on failure or Ctrl-C: the
// sandbox's containers, networks and volumes (by its instance label), its
// images (by its registry's address), its registry and edge processes (by
// pid), its home, and the busybox image if the bench imported it.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  api,
  BUSYBOX_IMAGE,
  benchArgs,
  cpuBusy,
  dockerClient,
  ensureBusyboxImage,
  machineLine,
  median,
  onInterrupt,
  percent,
  progress,
  runJsonBench,
  runTimeline,
  sandboxServer,
  seconds,
  tail,
} from "./lib/platform.mjs";

const TARGET_RATIO = 2;
const MEMORY_LIMIT = "16M";
const HEALTH_INTERVAL = "250ms";
const DEPLOY_TIMEOUT_MS = 15 * 60_000;

const { options, usage } = benchArgs(
  "node bench/many-services.mjs [--services N] [--reps N] [--kinds web,worker] [--big N] [--fail-after S] [--stable-for DURATION] [--json] [--from-json FILE] [--write]",
  {
    services: { type: "string", default: "20" },
    reps: { type: "string", default: "3" },
    big: { type: "string", default: "200" },
    "fail-after": { type: "string", default: "10" },
    kinds: { type: "string", default: "web,worker" },
    "stable-for": { type: "string", default: "1s" },
    json: { type: "boolean", default: false },
    "from-json": { type: "string" },
  },
);
const services = Number(options.services);
const reps = Number(options.reps);
const big = Number(options.big);
const failAfter = Number(options["fail-after"]);
const stableFor = options["stable-for"];
if (!Number.isInteger(services) || services < 2 || services > 100)
  usage("--services takes 2 to 100");
if (!Number.isInteger(reps) || reps < 1 || reps > 10) usage("--reps takes 1 to 10");
if (!Number.isInteger(big) || (big !== 0 && big < 2) || big > 300)
  usage("--big takes 0 (skip) or 2 to 300");
if (!Number.isInteger(failAfter) || failAfter < 1 || failAfter > 120)
  usage("--fail-after takes 1 to 120 seconds");
const kinds = options.kinds.split(",").filter(Boolean);
if (kinds.length === 0 || kinds.some((k) => !["web", "worker", "mixed"].includes(k)))
  usage("--kinds takes a comma-separated list of web, worker and mixed");
if (!/^\d+(ms|s)$/.test(stableFor)) usage("--stable-for takes a duration such as 1s or 500ms");

const interrupt = onInterrupt();
for (const signal of ["SIGTERM", "SIGHUP"]) process.on(signal, () => process.emit("SIGINT"));
const docker = dockerClient();
const suffix = Math.random().toString(16).slice(2, 6);

/** Service i (1-based) of an app of `kind`: its name and whether it is routed. */
function serviceOf(i, n, kind) {
  const name = `s${String(i).padStart(Math.max(3, String(n).length), "0")}`;
  const web = kind === "web" || (kind === "mixed" && i % 2 === 1);
  return { name, web };
}

/** compose.yaml of an app of `n` services at revision `rev`; `failing` makes the last one exit. */
function composeFile(app, n, kind, rev, failing = false) {
  const lines = ["services:"];
  for (let i = 1; i <= n; i++) {
    const { name, web } = serviceOf(i, n, kind);
    const fails = failing && i === n;
    lines.push(
      `  ${name}:`,
      `    image: ${BUSYBOX_IMAGE}`,
      `    environment: { REV: "${rev}" }`,
      `    deploy: { resources: { limits: { memory: ${MEMORY_LIMIT} } } }`,
    );
    if (fails) {
      // Exits after a while: long enough for the others to start and be healthy.
      lines.push(
        `    command: ["sh", "-c", "sleep ${failAfter}; echo giving up; exit 1"]`,
        `    x-skiff: { health: { stable_for: ${failAfter * 3}s } }`,
      );
    } else if (web) {
      lines.push(
        `    command: ["sh", "-c", "trap 'exit 0' TERM; echo ok $$REV > /ok.txt; httpd -f -p 8080 -h / & wait"]`,
        `    x-skiff: { port: 8080, domains: [${name}.${app}.localhost], health: { path: /ok.txt, interval: ${HEALTH_INTERVAL} } }`,
      );
    } else {
      lines.push(
        `    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 86400 & wait"]`,
        `    x-skiff: { health: { stable_for: ${stableFor} } }`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

/** GET through the sandbox's edge with a Host header; status and body, or the error's code. */
function edgeGet(sandbox, host, path) {
  return new Promise((resolve) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: sandbox.edgePort,
        path,
        headers: { host },
        agent: false,
        timeout: 3000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode, body: body.trim() }));
      },
    );
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
    req.on("error", (error) => resolve({ status: 0, body: error.code ?? error.message }));
    req.end();
  });
}

/** The app's containers (any state), optionally of one release. */
async function containersOf(sandbox, app, release) {
  const label = [`skiff.app=${app}`, `skiff.instance=${sandbox.instance}`];
  if (release !== undefined) label.push(`skiff.release=${release}`);
  return docker.listContainers({ all: true, filters: { label } });
}

/** Memory in use by one container's cgroup (v1 or v2), bytes, or undefined. */
function containerMemory(id) {
  for (const file of [
    `/sys/fs/cgroup/memory/docker/${id}/memory.usage_in_bytes`,
    `/sys/fs/cgroup/system.slice/docker-${id}.scope/memory.current`,
  ]) {
    try {
      return Number(readFileSync(file, "utf8").trim());
    } catch {}
  }
  return undefined;
}

/**
 * One app of the bench: its working tree and `deploy(rev)`, which writes
 * compose.yaml, runs `skiff deploy`, and reads the run record and events.
 */
function benchApp(sandbox, root, n, kind) {
  const app = `ms${n}${kind.slice(0, 3)}-${suffix}`;
  const dir = join(root, app);
  mkdirSync(dir, { recursive: true });
  return {
    app,
    n,
    kind,
    async create() {
      await sandbox.skiff(["apps:create", app]);
    },
    async deploy(rev, { failing = false } = {}) {
      writeFileSync(join(dir, "compose.yaml"), composeFile(app, n, kind, rev, failing));
      const busy = await cpuBusy(1000);
      const since = Date.now();
      const cli = await sandbox.skiff(["deploy", dir, "--app", app], {
        allowFailure: true,
        timeoutMs: DEPLOY_TIMEOUT_MS,
      });
      const number = Number(/run (\d+) of/.exec(cli.output)?.[1]);
      if (!number) throw new Error(`skiff deploy of ${app} started no run:\n${tail(cli.output)}`);
      const timeline = await runTimeline(sandbox, app, number, since);
      const { run } = await api(sandbox, "GET", `/apps/${app}/runs/${number}`);
      const result = {
        app,
        services: n,
        kind,
        rev,
        run: number,
        status: run.status,
        cliExit: cli.code,
        cliMs: cli.ms,
        cliTimedOut: cli.ms >= DEPLOY_TIMEOUT_MS,
        cpuBusyBefore: busy,
        stages: timeline.stages,
        deployMs: timeline.stages.deploy,
        wholeMs: Date.parse(run.finishedAt) - Date.parse(run.createdAt),
        ...phases(timeline.events, run),
        reason: timeline.reason,
      };
      if (cli.code !== 0 && !failing) {
        // Not meant to fail: recorded (with what the edge serves now) and reported, not fatal.
        result.unexpectedFailure = true;
        result.outputTail = tail(cli.output, 12);
        result.edgeAfter = await this.edgeCheck();
        progress(
          `  ${app} ${rev}: the deploy FAILED: ${result.reason}; through the edge now: ${JSON.stringify(result.edgeAfter.summary)}`,
        );
      }
      return result;
    },
    /** GET /ok.txt of every web service through the edge: how many answer, with which REV. */
    async edgeCheck() {
      const answers = [];
      for (let i = 1; i <= n; i++) {
        const { name, web } = serviceOf(i, n, kind);
        if (!web) continue;
        const answer = await edgeGet(sandbox, `${name}.${app}.localhost`, "/ok.txt");
        answers.push({ service: name, status: answer.status, body: answer.body.slice(0, 40) });
      }
      const summary = {};
      for (const a of answers) {
        const key = a.status === 200 ? a.body : `HTTP ${a.status}`;
        summary[key] = (summary[key] ?? 0) + 1;
      }
      return { answers, summary };
    },
  };
}

/**
 * Where a deploy stage's time went, from its events: the first "starting",
 * the last replica healthy, the last edge line, "is live", and on failure
 * "rolling back" to the end of the stage.
 */
function phases(events, run) {
  const deployLogs = events.filter((e) => e.type === "log" && e.stage === "deploy");
  const at = (e) => (e ? Date.parse(e.at) : undefined);
  const first = (pattern) => deployLogs.find((e) => pattern.test(e.text));
  const last = (pattern) => deployLogs.findLast((e) => pattern.test(e.text));
  const stage = run.stages.find((s) => s.name === "deploy");
  const stageStart = Date.parse(stage.startedAt);
  const stageEnd = Date.parse(stage.finishedAt);
  const starting = at(first(/^starting \d+ replica/));
  const healthy = at(last(/^replica \d+ of r\d+ healthy/));
  const edge = at(last(/^edge: /));
  const live = at(first(/^release r\d+ is live/));
  const rolling = first(/^rolling back/);
  const healthyLines = deployLogs.filter((e) => /^replica \d+ of r\d+ healthy/.test(e.text));
  const since = (a, b) => (a !== undefined && b !== undefined ? b - a : undefined);
  return {
    prepareMs: since(stageStart, starting),
    startToHealthyMs: since(starting, healthy),
    healthyToEdgeMs: since(healthy, edge),
    edgeToLiveMs: since(edge ?? healthy, live),
    replicasHealthy: healthyLines.length,
    ...(rolling
      ? {
          failureSeenMs: since(starting, at(rolling)),
          rollbackMs: since(at(rolling), stageEnd),
          rollbackLine: rolling.text,
          rollbackProblems: deployLogs
            .filter((e) => /^rollback: could not/.test(e.text))
            .map((e) => e.text),
        }
      : {}),
  };
}

/** Waits until only `n` containers of the app are left (the old release's are gone); ms waited. */
async function settle(sandbox, app, n, timeoutMs = 120_000) {
  const started = performance.now();
  const deadline = started + timeoutMs;
  for (;;) {
    const left = await containersOf(sandbox, app);
    if (left.length <= n) return performance.now() - started;
    if (performance.now() > deadline)
      throw new Error(`${app}: ${left.length} containers still there ${timeoutMs / 1000} s later`);
    await sleep(200);
  }
}

/** The label on what the by-hand baseline creates (containers, its network), for its cleanup. */
const BENCH_LABEL = "skiff-bench.many-services";
const WEB_COMMAND = "trap 'exit 0' TERM; echo ok $REV > /ok.txt; httpd -f -p 8080 -h / & wait";
const WORKER_COMMAND = "trap 'exit 0' TERM; sleep 86400 & wait";

/**
 * The same containers by hand, as the floor of what Docker itself takes on
 * this machine: create and start `n` at once through the Engine API (same
 * image, command, memory limit, a user network, web ports published on
 * 127.0.0.1), until each web one answers GET /ok.txt (polled every 50 ms,
 * as Skiff polls a starting replica) and each worker runs. No registry pull,
 * no edge, no stable_for wait. Removed afterwards, outside the timing.
 */
async function byHand(network, n, kind, rev) {
  const ids = [];
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: n }, async (_, index) => {
        const { web } = serviceOf(index + 1, n, kind);
        const container = await docker.createContainer({
          Image: BUSYBOX_IMAGE,
          Cmd: ["sh", "-c", web ? WEB_COMMAND : WORKER_COMMAND],
          Env: [`REV=${rev}`],
          Labels: { [BENCH_LABEL]: suffix },
          ...(web ? { ExposedPorts: { "8080/tcp": {} } } : {}),
          HostConfig: {
            Memory: 16 * 1024 * 1024,
            ...(web
              ? { PortBindings: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] } }
              : {}),
          },
          NetworkingConfig: { EndpointsConfig: { [network]: {} } },
        });
        ids.push(container.id);
        await container.start();
        if (!web) return;
        const info = await container.inspect();
        const port = Number(info.NetworkSettings.Ports["8080/tcp"]?.[0]?.HostPort);
        const deadline = performance.now() + 60_000;
        for (;;) {
          const answer = await localGet(port, "/ok.txt");
          if (answer.status === 200) return;
          if (performance.now() > deadline)
            throw new Error("a by-hand web container never answered");
          await sleep(50);
        }
      }),
    );
    return performance.now() - started;
  } finally {
    // One at a time: Docker 20.10 sometimes miscounts a network's endpoints when
    // many of its containers are force-removed at once, and then refuses to
    // remove the network ("has active endpoints") until dockerd restarts.
    for (const id of ids) await docker.getContainer(id).remove({ force: true });
  }
}

/** GET http://127.0.0.1:PORT/PATH on a new connection: status (0 when refused). */
function localGet(port, path) {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path, agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode }));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve({ status: 0 }));
    req.end();
  });
}

/** Removes what the by-hand baseline made, found by BENCH_LABEL (never throws). */
async function removeByHand() {
  const label = [`${BENCH_LABEL}=${suffix}`];
  try {
    for (const c of await docker.listContainers({ all: true, filters: { label } }))
      await docker.getContainer(c.Id).remove({ force: true });
    for (const n of await docker.listNetworks({ filters: { label } }))
      await docker.getNetwork(n.Id).remove();
  } catch (error) {
    progress(`cleanup of the by-hand containers failed: ${error.message}`);
  }
}

async function sideBySide(sandbox, root) {
  const network = `skiff-bench-ms-${suffix}`;
  await docker.createNetwork({ Name: network, Labels: { [BENCH_LABEL]: suffix } });
  const pairs = kinds.map((kind) => [
    benchApp(sandbox, root, 1, kind),
    benchApp(sandbox, root, services, kind),
  ]);
  const results = { first: [], reps: [], byHand: [] };
  for (const a of pairs.flat()) {
    interrupt.check();
    await a.create();
    progress(`${a.app}: first deploy of ${a.n} ${a.kind} service(s)`);
    const first = await a.deploy("r0");
    await settle(sandbox, a.app, a.n);
    progress(`  deploy stage ${seconds(first.deployMs)}, whole run ${seconds(first.wholeMs)}`);
    results.first.push(first);
  }
  for (let rep = 1; rep <= reps; rep++) {
    const order = pairs.flatMap((pair) => (rep % 2 === 1 ? pair : [...pair].reverse()));
    for (const a of order) {
      interrupt.check();
      const result = await a.deploy(`rep${rep}`);
      result.rep = rep;
      const settleMs = await settle(sandbox, a.app, a.n);
      results.reps.push(result);
      progress(
        `rep ${rep}/${reps} ${a.n} ${a.kind} service(s): deploy stage ${seconds(result.deployMs)} ` +
          `(start → all healthy ${seconds(result.startToHealthyMs ?? 0)}, → edge ${seconds(result.healthyToEdgeMs ?? 0)}), ` +
          `whole run ${seconds(result.wholeMs)}; CPUs ${percent(result.cpuBusyBefore)} busy before; old replicas gone ${seconds(settleMs)} later`,
      );
    }
    for (const [one, many] of pairs) {
      for (const a of rep % 2 === 1 ? [one, many] : [many, one]) {
        interrupt.check();
        const ms = await byHand(network, a.n, a.kind, `hand${rep}`);
        results.byHand.push({ services: a.n, kind: a.kind, rep, ms });
        progress(`rep ${rep}/${reps} by hand, ${a.n} ${a.kind} container(s): ${seconds(ms)}`);
      }
    }
  }
  return results;
}

async function bigApp(sandbox, root) {
  const a = benchApp(sandbox, root, big, "mixed");
  const firstWeb = serviceOf(1, big, "mixed");
  await a.create();
  progress(`${a.app}: first deploy of ${big} services`);
  const first = await a.deploy("big1");
  await settle(sandbox, a.app, big);
  progress(
    `  deploy stage ${seconds(first.deployMs)}, whole run ${seconds(first.wholeMs)} (publish ${seconds(first.stages.publish)})`,
  );
  const running = await containersOf(sandbox, a.app, 1);
  const memory = running.map((c) => containerMemory(c.Id)).filter((m) => m !== undefined);
  interrupt.check();
  progress(`${a.app}: a deploy whose last service exits after ${failAfter} s`);
  const failed = await a.deploy("big2", { failing: true });
  progress(
    `  ${failed.status} after ${seconds(failed.deployMs)} (deploy stage); rollback ${seconds(failed.rollbackMs ?? Number.NaN)}: ${failed.reason ?? "no reason"}`,
  );
  // What is left right after the run ended, and (if anything) when it went.
  const leftAtEnd = await containersOf(sandbox, a.app, 2);
  let leftGoneMs;
  if (leftAtEnd.length > 0) {
    const started = performance.now();
    for (let i = 0; i < 300; i++) {
      if ((await containersOf(sandbox, a.app, 2)).length === 0) {
        leftGoneMs = performance.now() - started;
        break;
      }
      await sleep(200);
    }
  }
  const stillRunning = (await containersOf(sandbox, a.app, 1)).filter(
    (c) => c.State === "running",
  ).length;
  const answer = await edgeGet(sandbox, `${firstWeb.name}.${a.app}.localhost`, "/ok.txt");
  const releases = await api(sandbox, "GET", `/apps/${a.app}/releases`);
  return {
    first,
    failed,
    memory: memory.length
      ? {
          replicas: memory.length,
          medianBytes: median(memory),
          maxBytes: Math.max(...memory),
          totalBytes: memory.reduce((x, y) => x + y, 0),
        }
      : undefined,
    after: {
      liveRelease: releases.live,
      failedReleaseContainersAtEnd: leftAtEnd.length,
      failedReleaseContainersGoneAfterMs: leftGoneMs,
      firstReleaseRunning: stillRunning,
      edge: {
        host: `${firstWeb.name}.${a.app}.localhost`,
        status: answer.status,
        body: answer.body.slice(0, 80),
        servesFirstRelease: answer.status === 200 && answer.body === "ok big1",
      },
    },
  };
}

async function measure() {
  const startedAt = performance.now();
  const busybox = await ensureBusyboxImage(docker);
  if (busybox.imported) progress(`imported ${BUSYBOX_IMAGE} from /bin/busybox`);
  const root = mkdtempSync(join(tmpdir(), "skiff-bench-many-services-apps-"));
  let sandbox;
  try {
    sandbox = await sandboxServer({ prefix: "skiff-bench-many-services-" });
    progress(`skiff server pid ${sandbox.pid} at ${sandbox.url}, edge :${sandbox.edgePort}`);
    const compare = await sideBySide(sandbox, root);
    interrupt.check();
    const large = big > 0 ? await bigApp(sandbox, root) : undefined;
    const command = `node bench/many-services.mjs${process.argv.length > 2 ? ` ${process.argv.slice(2).join(" ")}` : ""}`;
    const machine = await machineLine(sandbox, command);
    return {
      machine,
      settings: {
        services,
        reps,
        big,
        kinds,
        stableFor,
        failAfterS: failAfter,
        memoryLimit: MEMORY_LIMIT,
        healthInterval: HEALTH_INTERVAL,
        image: BUSYBOX_IMAGE,
      },
      compare,
      large,
      benchSeconds: (performance.now() - startedAt) / 1000,
    };
  } finally {
    progress("cleaning up");
    await removeByHand();
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

function report(m) {
  const { compare, large, settings } = m;
  const med = (list, key) => median(list.map((r) => r[key]).filter((v) => v !== undefined));
  const each = (list, key) =>
    list
      .map((r) => `${seconds(r[key] ?? Number.NaN)}${r.status === "succeeded" ? "" : " FAILED"}`)
      .join(", ");
  const ms = (value) => (value === undefined || Number.isNaN(value) ? "–" : seconds(value));
  const kindWords = {
    web: "web: busybox httpd, routed by the edge",
    worker: "worker: sleep, no port",
  };
  const lines = [
    m.machine,
    "",
    `Each service runs ${settings.image} as an \`image:\` service (no build), one kind per app (${settings.kinds.map((k) => kindWords[k] ?? k).join("; ")}); no dependencies between services; every replica limited to ${settings.memoryLimit} of memory. Web health: GET /ok.txt every ${settings.healthInterval}; workers: \`x-skiff.health.stable_for: ${settings.stableFor}\` (shortened from the default 5 s so they are healthy quickly). Each repetition changes REV in every service's environment, so every replica is replaced. ${settings.reps} repetitions per app after a first deploy; the app that goes first alternates.`,
    "",
    "| app | deploy stage, median (each) | start → last replica healthy | last healthy → edge switched | whole run (created → finished) | `skiff deploy` wall clock |",
    "|---|---:|---:|---:|---:|---:|",
  ];
  const verdicts = [];
  for (const kind of settings.kinds) {
    const all = (n) => compare.reps.filter((r) => r.services === n && r.kind === kind);
    // Medians over the deploys that went live; a failed one shows in the list, marked.
    const ok = (n) => all(n).filter((r) => r.status === "succeeded");
    const [one, many] = [ok(1), ok(settings.services)];
    for (const [label, n] of [
      [`1 ${kind} service`, 1],
      [`${settings.services} ${kind} services`, settings.services],
    ]) {
      const list = ok(n);
      lines.push(
        `| ${label} | ${ms(med(list, "deployMs"))} (${each(all(n), "deployMs")}) | ${ms(med(list, "startToHealthyMs"))} | ${ms(med(list, "healthyToEdgeMs"))} | ${ms(med(list, "wholeMs"))} | ${ms(med(list, "cliMs"))} |`,
      );
    }
    const hand = (n) => compare.byHand.filter((r) => r.services === n && r.kind === kind);
    for (const n of [1, settings.services]) {
      lines.push(
        `| by hand: ${n} ${kind} container(s) created and started at once, until ready | ${ms(med(hand(n), "ms"))} (${each(
          hand(n).map((r) => ({ ...r, status: "succeeded" })),
          "ms",
        )}) | | | | |`,
      );
    }
    const ratio = med(many, "deployMs") / med(one, "deployMs");
    const ratioWhole = med(many, "wholeMs") / med(one, "wholeMs");
    const ratioHand = med(hand(settings.services), "ms") / med(hand(1), "ms");
    verdicts.push(
      Number.isNaN(ratio)
        ? `${kind}: no ${settings.services}-service or 1-service deploy went live, so no ratio (see the failures below).`
        : `${kind}: ${settings.services} services / 1 service, medians: deploy stage **${ratio.toFixed(2)} ×**, whole run ${ratioWhole.toFixed(2)} × (target ≤ ${TARGET_RATIO} ×: **${ratio <= TARGET_RATIO ? "met" : "missed"}**); Docker alone (by hand) ${ratioHand.toFixed(2)} ×.`,
    );
  }
  const failures = [...compare.first, ...compare.reps].filter((r) => r.unexpectedFailure);
  lines.push(
    "",
    ...verdicts,
    ...(failures.length
      ? [
          "",
          `**${failures.length} deploy(s) that should have gone live failed** (not in the medians):`,
          ...failures.map(
            (r) =>
              `- ${r.services} ${r.kind} service(s), ${r.rev} (run ${r.run}): ${r.reason}; afterwards through the edge (GET /ok.txt of each web service): ${JSON.stringify(r.edgeAfter.summary)}`,
          ),
        ]
      : []),
    `First deploys (not in the ratios), deploy stage: ${compare.first.map((r) => `${r.services} ${r.kind} ${seconds(r.deployMs)}`).join(", ")}. CPUs busy with other work in the second before each repetition: ${compare.reps.map((r) => percent(r.cpuBusyBefore)).join(", ")}.`,
    "",
  );
  if (large) {
    const { first, failed, after, memory } = large;
    const timedOut = (r) =>
      r.cliTimedOut || /timed out|within \d+ ?s|deadline/i.test(r.reason ?? "");
    lines.push(
      `**${settings.big} services** in one app, odd ones web and even ones workers:`,
      "",
      "| deploy | status | deploy stage | whole run | start → last replica healthy / failure seen | rollback | timed out |",
      "|---|---|---:|---:|---:|---:|---|",
      `| first (all new) | ${first.status} | ${seconds(first.deployMs)} | ${seconds(first.wholeMs)} | ${seconds(first.startToHealthyMs ?? Number.NaN)} (${first.replicasHealthy} healthy) | – | ${timedOut(first) ? "yes" : "no"} |`,
      `| every service changed, the last one exits after ${settings.failAfterS} s | ${failed.status} | ${seconds(failed.deployMs)} | ${seconds(failed.wholeMs)} | ${seconds(failed.failureSeenMs ?? Number.NaN)} (${failed.replicasHealthy} healthy before) | ${seconds(failed.rollbackMs ?? Number.NaN)} | ${timedOut(failed) ? "yes" : "no"} |`,
      "",
      `The first deploy's publish stage took ${seconds(first.stages.publish)} (each image: service copied into the app's repository). The failed run's reason: "${failed.reason ?? "none"}"; its rollback: "${failed.rollbackLine ?? "no rollback line"}"${failed.rollbackProblems?.length ? `; problems: ${failed.rollbackProblems.join("; ")}` : ""}.`,
      `Afterwards: live release r${after.liveRelease}; ${after.firstReleaseRunning} of ${settings.big} replicas of r1 running; ${after.failedReleaseContainersAtEnd} container(s) of the failed release r2 left when the run ended${after.failedReleaseContainersAtEnd > 0 ? ` (gone ${after.failedReleaseContainersGoneAfterMs === undefined ? "not within 60 s" : `${seconds(after.failedReleaseContainersGoneAfterMs)} later`})` : ""}; GET http://${after.edge.host}/ok.txt through the edge: ${after.edge.status} "${after.edge.body}" (${after.edge.servesFirstRelease ? "the first release" : "NOT the first release"}).`,
      memory
        ? `Memory of the ${memory.replicas} replicas of r1 (their cgroups): median ${(memory.medianBytes / 1024).toFixed(0)} KiB, max ${(memory.maxBytes / 1024).toFixed(0)} KiB, all together ${(memory.totalBytes / 1024 / 1024).toFixed(1)} MiB.`
        : "",
      "",
    );
  }
  lines.push(`The bench took ${seconds(m.benchSeconds * 1000)} in all.`, "");
  return lines.join("\n");
}

await runJsonBench("many-services", { options, interrupt }, measure, report);
