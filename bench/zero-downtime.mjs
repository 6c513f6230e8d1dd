#!/usr/bin/env node
// bench/zero-downtime: does any request fail while Skiff changes what runs?
//
//   node bench/zero-downtime.mjs [--rate N] [--deploys N] [--write]
//
// Creates a uniquely named copy of examples/shop on the local Skiff server
// (web: 2 replicas behind the edge, checked on /healthz; api: 1 replica with
// a Docker healthcheck; every GET / makes web call api), deploys it once,
// then keeps a fixed rate of keep-alive GETs of `/` going through the edge
// (an open loop) for the whole of this sequence:
//   1. 10 consecutive deploys, each a one-line change (the page title)
//      pushed with git: build, test, publish, health-gated rollout;
//   2. one deploy whose web /healthz answers 500 (and whose title is new):
//      the push must fail, and no answer may carry its title;
//   3. one `skiff rollback APP` (to the release before the live one);
//   4. one `docker kill` of a web replica, and the wait until the reconciler
//      has 2 running again and the edge has both UP.
// Every answer is counted by status class and every socket error by code,
// per phase (a request belongs to the phase during which it was due), and
// the title of each answer shows which release served it. Before the
// sequence: 3 s of warm-up (not counted as steady) and 5 s of steady load;
// after it, 5 s more.
// Targets: 0 non-2xx and 0 socket errors; the p99 during the deploys at
// most 3 × the steady p99 (before and after, together). The app is
// destroyed at the end.
//
// Needs the server and the Node.js base image from scripts/quickstart.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { summarize } from "./lib/load.mjs";
import { httpLoadInWorker } from "./lib/load-worker.mjs";
import {
  api,
  benchArgs,
  cpuBusy,
  destroyApp,
  dockerClient,
  haproxyStat,
  machineTicks,
  onInterrupt,
  percent,
  progress,
  runBench,
  runTimeline,
  serverConfig,
  setTitle,
  shopCopy,
  skiff,
  TITLE_PATTERN,
  tail,
} from "./lib/platform.mjs";

const CONNECTIONS = 8;
/** Each steady phase, before and after the changes: the baseline of the p99 target. */
const STEADY_MS = 5000;
/** Issue 10: serving p99 during the deploys at most this many times the steady p99. */
const TARGET_P99_RATIO = 3;

const { options, usage } = benchArgs(
  "node bench/zero-downtime.mjs [--rate N] [--deploys N] [--write]",
  {
    rate: { type: "string", default: "50" },
    deploys: { type: "string", default: "10" },
  },
);
const rate = Number(options.rate);
const deploys = Number(options.deploys);
if (!(rate >= 1 && rate <= 500)) usage("--rate takes 1 to 500 requests per second");
if (!Number.isInteger(deploys) || deploys < 2 || deploys > 30) usage("--deploys takes 2 to 30");

const server = serverConfig();
const docker = dockerClient();
const interrupt = onInterrupt();
const app = `bench-zd-${Math.random().toString(16).slice(2, 8)}`;
const backend = `app_${app}__web`;

function breakHealth(dir) {
  const file = join(dir, "web", "server.js");
  const before = readFileSync(file, "utf8");
  const after = before.replace(
    'if (request.url === "/healthz") return response.end("ok\\n");',
    'if (request.url === "/healthz") { response.statusCode = 500; return response.end("broken\\n"); }',
  );
  if (after === before)
    throw new Error(`${file}: no /healthz line to break; examples/shop changed`);
  writeFileSync(file, after);
}

async function runningWebReplicas() {
  return docker.listContainers({
    filters: { label: [`skiff.app=${app}`, "skiff.service=web"], status: ["running"] },
  });
}

async function edgeServersUp() {
  return (await haproxyStat(server)).filter(
    (r) => r.pxname === backend && r.svname !== "BACKEND" && r.status.startsWith("UP"),
  ).length;
}

async function liveRelease() {
  return (await api(server, "GET", `/apps/${app}/releases`)).live;
}

async function newestRun() {
  const { runs } = await api(server, "GET", `/apps/${app}/runs`);
  return runs.reduce((a, b) => (b.number > a.number ? b : a));
}

async function main() {
  const busy = await cpuBusy();
  progress(`app ${app}; CPUs ${percent(busy)} busy before the run`);
  const copy = await shopCopy(server, app, (dir) => setTitle(dir, "Shop r1"));
  let created = false;
  try {
    await skiff(["apps:create", app]);
    created = true;
    const first = await copy.push({ allowFailure: true });
    if (first.code !== 0) throw new Error(`the first deploy failed:\n${tail(first.output)}`);
    progress("first release live; starting the load");

    const load = await httpLoadInWorker({
      port: server.edgePort,
      host: `${app}.localhost`,
      path: "/",
      rate,
      connections: CONNECTIONS,
      maxSeconds: 900,
      tagPattern: TITLE_PATTERN,
    });
    const loadEpoch = Date.now();
    const machineBefore = machineTicks();
    const phases = [];
    const phase = async (name, work) => {
      interrupt.check();
      const start = load.now();
      const detail = (await work()) ?? {};
      const end = load.now();
      phases.push({ name, start, end, ...detail });
      progress(`${name}: ${((end - start) / 1000).toFixed(1)} s ${detail.note ?? ""}`);
    };
    let result;
    try {
      // The first release's replicas serve their first requests here (a
      // cold process is slower at first): not part of the steady baseline.
      await phase("warm-up", () => sleep(3000));
      await phase("steady, before", () => sleep(STEADY_MS));
      await sequence(copy, phase);
      await phase("steady, after", () => sleep(STEADY_MS));
    } finally {
      result = await load.stop();
    }
    // Read only now: parsing a run's event journal in this process while
    // the load ran would delay the load's own requests and show as latency.
    for (const p of phases.filter((x) => x.run)) {
      p.timeline = await runTimeline(server, app, p.run.number, p.run.since);
      if (p.describe) p.note = p.describe(p.timeline);
    }
    const machineAfter = machineTicks();
    const machineBusy =
      (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total);
    return { busy, machineBusy, result, phases, loadEpoch };
  } finally {
    if (created) await destroyApp(app);
    copy.remove();
  }
}

/** The changes made under load, each a named phase. */
async function sequence(copy, phase) {
  for (let i = 1; i <= deploys; i++) {
    await phase(`deploy ${i} of ${deploys}`, async () => {
      setTitle(copy.dir, `Shop deploy ${i}`);
      await copy.commit(`deploy ${i}`);
      const since = Date.now();
      const pushed = await copy.push({ allowFailure: true });
      if (pushed.code !== 0) throw new Error(`deploy ${i} failed:\n${tail(pushed.output)}`);
      const run = await newestRun();
      return {
        title: `Shop deploy ${i}`,
        pushMs: pushed.ms,
        run: { number: run.number, since },
        note: `(run ${run.number}: push ${(pushed.ms / 1000).toFixed(1)} s)`,
        describe: (timeline) =>
          `(run ${run.number}: push ${(pushed.ms / 1000).toFixed(1)} s, live after ${((timeline.liveAt ?? Number.NaN) / 1000).toFixed(1)} s)`,
      };
    });
  }
  await phase("a deploy that fails its health check", async () => {
    const liveBefore = await liveRelease();
    breakHealth(copy.dir);
    setTitle(copy.dir, "Shop broken");
    await copy.commit("web /healthz answers 500");
    const since = Date.now();
    const pushed = await copy.push({ allowFailure: true });
    if (pushed.code === 0) throw new Error("the deploy with a broken health check went live");
    const run = await newestRun();
    if (run.status !== "failed") throw new Error(`run ${run.number} is ${run.status}, not failed`);
    const liveAfter = await liveRelease();
    if (liveAfter !== liveBefore)
      throw new Error(`the live release changed from r${liveBefore} to r${liveAfter}`);
    // The push was refused, so the server's branch did not move: go back with it.
    await copy.git(["reset", "-q", "--hard", "HEAD~1"]);
    return {
      title: "Shop broken",
      forbiddenTitle: "Shop broken",
      pushMs: pushed.ms,
      run: { number: run.number, since },
      note: `(push refused after ${(pushed.ms / 1000).toFixed(1)} s, run ${run.number} failed; r${liveAfter} still live)`,
      describe: (timeline) =>
        `(push refused after ${(pushed.ms / 1000).toFixed(1)} s, run ${run.number} failed: "${(timeline.reason ?? "?").split("\n")[0].slice(0, 140)}"; r${liveAfter} still live)`,
    };
  });
  await phase("rollback", async () => {
    const liveBefore = await liveRelease();
    const since = Date.now();
    const rolled = await skiff(["rollback", app]);
    const run = await newestRun();
    return {
      title: `Shop deploy ${deploys - 1}`,
      pushMs: rolled.ms,
      run: { number: run.number, since },
      note: `(r${liveBefore} → r${await liveRelease()}, the release of deploy ${deploys - 1}; \`skiff rollback\` took ${(rolled.ms / 1000).toFixed(1)} s)`,
    };
  });
  await phase("docker kill of a web replica", async () => {
    const started = performance.now();
    const [victim] = await runningWebReplicas();
    if (!victim) throw new Error("no running web replica to kill");
    await docker.getContainer(victim.Id).kill();
    let replacedMs;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const running = await runningWebReplicas();
      const two = running.length === 2 && !running.some((c) => c.Id === victim.Id);
      if (two && replacedMs === undefined) replacedMs = performance.now() - started;
      if (two && (await edgeServersUp()) === 2) {
        const upMs = performance.now() - started;
        return {
          replacedMs,
          upMs,
          note: `(a new replica running after ${(replacedMs / 1000).toFixed(1)} s, both UP in the edge after ${(upMs / 1000).toFixed(1)} s)`,
        };
      }
      await sleep(100);
    }
    throw new Error(
      "the killed replica was not replaced (2 running, 2 UP in the edge) within 120 s",
    );
  });
}

function report({ busy, machineBusy, result, phases, loadEpoch }, machine) {
  const all = summarize(result.records);
  const met = all.non2xx === 0 && all.socketErrors === 0;
  const ms = (v) => (Number.isNaN(v) ? "–" : `${v.toFixed(v < 100 ? 1 : 0)} ms`);
  const phaseOf = (t) => phases.find((p) => t >= p.start && t < p.end)?.name ?? "between phases";
  // What the run was doing when a request was due: its latest event before then.
  const context = (t) => {
    const p = phases.find((x) => t >= x.start && x.end > t);
    const due = loadEpoch + t;
    const last = p?.timeline?.events.filter((e) => Date.parse(e.at) <= due).at(-1);
    if (!last) return phaseOf(t);
    const what =
      last.type === "log"
        ? `${last.service ? `[${last.service}] ` : ""}${last.text}`
        : `${last.type} ${last.stage ?? ""} ${last.status}`;
    return `${phaseOf(t)}, ${((due - Date.parse(last.at)) / 1000).toFixed(1)} s after "${what.slice(0, 90)}"`;
  };
  const failures = result.records.filter((r) => r.error !== undefined || r.status !== 200);
  const forbidden = phases
    .filter((p) => p.forbiddenTitle)
    .map((p) => [
      p.forbiddenTitle,
      result.records.filter((r) => r.tag === p.forbiddenTitle).length,
    ]);
  const lines = [
    machine,
    "",
    `Load: ${rate} GET/s of \`/\` through the edge (keep-alive, ${CONNECTIONS} connections, Node's http client, open loop) for ${result.seconds.toFixed(0)} s; ` +
      `web answers each by calling api. CPUs ${percent(busy)} busy before the run, ${percent(machineBusy)} on average during it (the bench and the deploys included).`,
    "",
    "| requests | 2xx | non-2xx | socket errors | p50 | p99 | p99.9 | max | answers over 1 s |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    `| ${all.sent} | ${all.ok} | ${all.non2xx} | ${all.socketErrors} | ${ms(all.p50)} | ${ms(all.p99)} | ${ms(all.p999)} | ${ms(all.max)} | ${all.over1s} |`,
    "",
    `Target: 0 non-2xx and 0 socket errors: **${met ? "met" : "not met"}**` +
      (met
        ? "."
        : ` (${all.non2xx} non-2xx: ${JSON.stringify(all.byClass)}; socket errors: ${JSON.stringify(all.errors)}).`),
    ...forbidden.map(
      ([title, n]) =>
        `Answers carrying the failed deploy's title "${title}": ${n} (must be 0: ${n === 0 ? "it never served" : "**it served**"}).`,
    ),
    "",
    "Per phase (a request counts in the phase during which it was due):",
    "",
    "| phase | took | requests | non-2xx | socket errors | p99 | max | what happened |",
    "|---|---:|---:|---:|---:|---:|---:|---|",
  ];
  const within = (list) =>
    result.records.filter((r) => list.some((p) => r.t >= p.start && r.t < p.end));
  const steady = summarize(within(phases.filter((p) => p.name.startsWith("steady"))));
  const during = summarize(within(phases.filter((p) => p.name.startsWith("deploy "))));
  const latencyMet = during.p99 <= TARGET_P99_RATIO * steady.p99;
  lines.splice(
    lines.indexOf("Per phase (a request counts in the phase during which it was due):"),
    0,
    `Serving p99 during the ${deploys} deploys: ${ms(during.p99)}, against ${ms(steady.p99)} steady (before and after, together): ` +
      `${(during.p99 / steady.p99).toFixed(1)} ×. Target: at most ${TARGET_P99_RATIO} ×: **${latencyMet ? "met" : "not met"}**.`,
    "",
  );
  for (const p of phases) {
    const s = summarize(result.records.filter((r) => r.t >= p.start && r.t < p.end));
    lines.push(
      `| ${p.name} | ${((p.end - p.start) / 1000).toFixed(1)} s | ${s.sent} | ${s.non2xx} | ${s.socketErrors} | ${ms(s.p99)} | ${ms(s.max)} | ${(p.note ?? "").replace(/^\(|\)$/g, "")} |`,
    );
  }
  const deploysOnly = phases.filter((p) => p.name.startsWith("deploy "));
  if (deploysOnly.length > 0) {
    const mid = (pick) => {
      const v = deploysOnly
        .map(pick)
        .filter((x) => x !== undefined && !Number.isNaN(x))
        .sort((a, b) => a - b);
      return v.length ? v[Math.floor(v.length / 2)] : Number.NaN;
    };
    const s = (v) => `${(v / 1000).toFixed(2)} s`;
    lines.push(
      "",
      `Where a deploy's time goes (median of the ${deploysOnly.length} deploys, from the run's events; the push returns when the run ends):`,
      "",
      "| git push, whole | push → run starts | source | build | test | publish | deploy stage | of which: new replicas started → healthy | healthy → in the edge's rotation | old ones drained | live → deploy stage ends (old replicas stop in the background) | push → release live | push → first answer of the new release |",
      "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      `| ${s(mid((p) => p.pushMs))} | ${s(mid((p) => p.timeline.queuedMs))} | ${s(mid((p) => p.timeline.stages.source))} | ${s(mid((p) => p.timeline.stages.build))} | ${s(mid((p) => p.timeline.stages.test))} | ${s(mid((p) => p.timeline.stages.publish))} | ${s(mid((p) => p.timeline.stages.deploy))} | ${s(mid((p) => p.timeline.webHealthyMs))} | ${s(mid((p) => p.timeline.webRotationMs))} | ${s(mid((p) => p.timeline.webDrainMs))} | ${s(mid((p) => p.timeline.stopOldMs))} | ${s(mid((p) => p.timeline.liveAt))} | ${s(mid((p) => firstSeen(result, p)))} |`,
    );
  }
  if (failures.length > 0) {
    lines.push("", `Failed requests (first 10 of ${failures.length}):`, "");
    for (const r of failures.slice(0, 10)) {
      lines.push(
        `- at ${(r.t / 1000).toFixed(2)} s (${context(r.t)}): ${r.error !== undefined ? `socket error ${r.error}${r.reused ? " on a reused keep-alive connection" : ""}` : `HTTP ${r.status} ${r.detail ?? ""}`} after ${r.ms.toFixed(0)} ms`,
      );
    }
  }
  const slowest = result.records
    .filter((r) => r.error === undefined)
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 5);
  lines.push("", "Slowest answers, and what the run was doing when each was due:", "");
  for (const r of slowest) {
    lines.push(`- ${r.ms.toFixed(0)} ms, due at ${(r.t / 1000).toFixed(1)} s (${context(r.t)})`);
  }
  return `${lines.join("\n")}\n`;
}

/** When the load first got an answer with this phase's title, from the phase's start (ms). */
function firstSeen(result, phase) {
  const hit = result.records.find((r) => r.t >= phase.start && r.tag === phase.title);
  return hit ? hit.t + hit.ms - phase.start : undefined;
}

await runBench("zero-downtime", { server, options, interrupt }, main, report);
