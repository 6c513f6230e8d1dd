#!/usr/bin/env node
// bench/zero-downtime: does any request fail while Skiff changes what runs?
//
//   node bench/zero-downtime.mjs [--rate N] [--write]
//
// Creates a uniquely named copy of examples/shop on the local Skiff server,
// deploys it once, then puts a steady load on it through the edge (a fixed
// rate of keep-alive GETs of `/`, which the web service answers by calling
// the api service) for the whole of this sequence:
//   1. 10 consecutive deploys, each a one-line code change pushed with git;
//   2. one deploy whose web health check fails (the push must fail and the
//      previous release keep serving);
//   3. one rollback (`skiff rollback APP`) to the release before;
//   4. one `docker kill` of a web replica (the app runs 2), and the wait
//      until the reconciler has put a new one in its place.
// Counts every answer by status class and every socket error, per phase.
// Target: 0 non-2xx and 0 socket errors. The app is destroyed at the end.
//
// Needs the server and the Node.js base image from scripts/quickstart.

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
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

const DEPLOYS = 10;

const { values: options } = parseArgs({
  options: {
    rate: { type: "string", default: "50" },
    write: { type: "boolean", default: false },
  },
});
const rate = Number(options.rate);

const server = serverConfig();
const docker = new Docker({ socketPath: "/var/run/docker.sock" });
const app = `bench-zd-${Math.random().toString(16).slice(2, 8)}`;
const root = mkdtempSync(join(tmpdir(), "skiff-bench-zd-"));
const dir = join(root, "src");
const env = gitEnv(join(root, "home"));
const remote = remoteOf(server, app);

function changeTitle(label) {
  const file = join(dir, "web", "page.js");
  const before = readFileSync(file, "utf8");
  const after = before.replace(/<title>[^<]*<\/title>/, `<title>Shop (${label})</title>`);
  if (after === before) throw new Error(`${file}: no <title> to change`);
  writeFileSync(file, after);
}

function breakHealth() {
  const file = join(dir, "web", "server.js");
  const before = readFileSync(file, "utf8");
  const after = before.replace(
    'if (request.url === "/healthz") return response.end("ok\\n");',
    'if (request.url === "/healthz") { response.statusCode = 500; return response.end("broken\\n"); }',
  );
  if (after === before) throw new Error(`${file}: no /healthz line to break`);
  writeFileSync(file, after);
}

async function commitAndPush(message) {
  await git(["add", "-A"], { cwd: dir, env });
  await git(["commit", "-q", "-m", message], { cwd: dir, env });
  return git(["push", remote, "main"], { cwd: dir, env, secret: server.token, allowFailure: true });
}

async function webReplicas() {
  return docker.listContainers({
    filters: { label: [`skiff.app=${app}`, "skiff.service=web"], status: ["running"] },
  });
}

async function main() {
  const busy = await cpuBusy();
  progress(`app ${app}; CPUs ${(busy * 100).toFixed(0)} % busy before the run`);
  cpSync(join(ROOT, "examples", "shop"), dir, { recursive: true });
  await git(["init", "-q", "-b", "main"], { cwd: dir, env });
  await skiff(["apps:create", app]);
  const first = await commitAndPush("first");
  if (first.code !== 0) throw new Error(`the first deploy failed:\n${first.output}`);

  const load = fixedRateLoad({ port: server.edgePort, host: `${app}.localhost`, rate });
  const phases = [];
  const phase = async (name, work) => {
    const started = performance.now();
    const detail = await work();
    phases.push({ name, seconds: (performance.now() - started) / 1000, detail });
    progress(`${name}: ${((performance.now() - started) / 1000).toFixed(1)} s ${detail ?? ""}`);
  };

  try {
    await sleep(2000);
    await sequence(phase);
    await sleep(2000);
  } catch (error) {
    await load.stop();
    throw error;
  }
  const result = await load.stop();
  return { busy, result, phases };
}

/** The changes made under load, each as a named phase. */
async function sequence(phase) {
  for (let i = 1; i <= DEPLOYS; i++) {
    await phase(`deploy ${i} of ${DEPLOYS}`, async () => {
      changeTitle(`deploy ${i}`);
      const pushed = await commitAndPush(`deploy ${i}`);
      if (pushed.code !== 0) throw new Error(`deploy ${i} failed:\n${pushed.output}`);
      return "";
    });
  }
  await phase("a deploy that fails its health check", async () => {
    breakHealth();
    const pushed = await commitAndPush("broken health check");
    if (pushed.code === 0) throw new Error("the broken deploy went live");
    await git(["reset", "-q", "--hard", "HEAD~1"], { cwd: dir, env });
    return "(push refused, as it must be)";
  });
  await phase("rollback", async () => {
    await skiff(["rollback", app]);
    return "";
  });
  await phase("docker kill of a web replica", async () => {
    const [victim] = await webReplicas();
    if (!victim) throw new Error("no running web replica to kill");
    await docker.getContainer(victim.Id).kill();
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const running = await webReplicas();
      if (running.length === 2 && !running.some((c) => c.Id === victim.Id)) return "(replaced)";
      await sleep(200);
    }
    throw new Error("the killed replica was not replaced within 120 s");
  });
}

function report({ busy, result, phases }, machine) {
  const non2xx = Object.entries(result.byStatus)
    .filter(([k]) => k !== "2xx")
    .reduce((n, [, v]) => n + v, 0);
  const errors = Object.values(result.errors).reduce((a, b) => a + b, 0);
  const met = non2xx === 0 && errors === 0;
  const lines = [
    machine,
    "",
    `Load: ${rate} GET/s of \`/\` through the edge (keep-alive, 8 connections), for ${result.seconds.toFixed(0)} s; the web service answers each by calling the api service. CPUs ${(busy * 100).toFixed(0)} % busy before the run.`,
    "",
    "| requests sent | 2xx | non-2xx | socket errors | p50 | p99 | max |",
    "|---:|---:|---:|---:|---:|---:|---:|",
    `| ${result.sent} | ${result.byStatus["2xx"] ?? 0} | ${non2xx} | ${errors} | ${percentile(result.latenciesMs, 50).toFixed(1)} ms | ${percentile(result.latenciesMs, 99).toFixed(1)} ms | ${Math.max(...result.latenciesMs).toFixed(0)} ms |`,
    "",
    `Target: 0 non-2xx and 0 socket errors: **${met ? "met" : "not met"}**.`,
    ...(result.samples.length > 0
      ? ["", "First failures:", "", ...result.samples.slice(0, 10).map((s) => `- ${s}`)]
      : []),
    "",
    "| phase | took |",
    "|---|---:|",
    ...phases.map((p) => `| ${p.name} ${p.detail ?? ""} | ${p.seconds.toFixed(1)} s |`),
  ];
  return lines.join("\n");
}

const command = `node bench/zero-downtime.mjs${options.rate !== "50" ? ` --rate ${rate}` : ""}${options.write ? " --write" : ""}`;
try {
  const measured = await main();
  const markdown = report(measured, await machineLine(command));
  process.stdout.write(`${markdown}\n`);
  if (options.write) writeSection("bench/zero-downtime", markdown);
} finally {
  await skiff(["apps:destroy", app, "--confirm", app], { allowFailure: true });
  rmSync(root, { recursive: true, force: true });
}
