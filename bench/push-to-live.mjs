#!/usr/bin/env node
// bench/push-to-live: from `git push` of a one-line change to the first
// answer of the new version, against the same Docker work done by hand.
//
//   node bench/push-to-live.mjs [--runs N] [--write]
//
// The app is a copy of examples/shop made comparable with a hand-run
// deploy: no x-skiff.test entries and one web replica (Skiff still checks
// health, adds the replica to the edge, drains and stops the old one).
// Each run makes a one-line change to web's page title twice, alternating:
//   skiff:  git push; time until GET / through the edge shows the new title;
//   manual: what a person would script with the Engine API: build web with
//           BuildKit (same context, BUILDKIT_INLINE_CACHE=1, cachefrom the
//           previous image), push it to the registry, create and start a
//           container on the app's network with its port published on
//           127.0.0.1, wait until GET /healthz answers, then until GET /
//           shows the new title.
// Target: Skiff ≤ 1.10 × manual and at most 1.5 s more. The app and every
// container and image the manual side made are removed at the end.

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import Docker from "dockerode";
import { buildImage } from "../dist/build/build-image.js";
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
    runs: { type: "string", default: "3" },
    write: { type: "boolean", default: false },
  },
});
const runs = Number(options.runs);
const REGISTRY = "127.0.0.1:5000";

const server = serverConfig();
const docker = new Docker({ socketPath: "/var/run/docker.sock" });
const app = `bench-ptl-${Math.random().toString(16).slice(2, 8)}`;
const manualLabel = { "skiff-bench.push-to-live": app };
const root = mkdtempSync(join(tmpdir(), "skiff-bench-ptl-"));
const dir = join(root, "src");
const env = gitEnv(join(root, "home"));

function setTitle(title) {
  const file = join(dir, "web", "page.js");
  const before = readFileSync(file, "utf8");
  const after = before.replace(/<title>[^<]*<\/title>/, `<title>${title}</title>`);
  if (after === before) throw new Error(`${file}: no <title> to change`);
  writeFileSync(file, after);
}

/** GET http://127.0.0.1:PORT/PATH with a Host header; the body, or undefined. */
function get(port, host, path) {
  return new Promise((resolve) => {
    const req = request(
      { host: "127.0.0.1", port, path, headers: { host }, agent: false, timeout: 2000 },
      (res) => {
        let body = "";
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve(res.statusCode === 200 ? body : undefined));
      },
    );
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
    req.end();
  });
}

async function until(what, probe, timeoutMs = 180_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function skiffSide(title) {
  setTitle(title);
  await git(["commit", "-q", "-am", title], { cwd: dir, env });
  const started = performance.now();
  const pushing = git(["push", remoteOf(server, app), "main"], {
    cwd: dir,
    env,
    secret: server.token,
  });
  await until("the new title through the edge", async () =>
    (await get(server.edgePort, `${app}.localhost`, "/"))?.includes(title),
  );
  const ms = performance.now() - started;
  await pushing;
  return ms;
}

async function follow(stream) {
  await new Promise((resolve, reject) =>
    docker.modem.followProgress(stream, (error, output) => {
      const failed = output?.find((m) => m.error);
      if (error || failed) reject(new Error(error?.message ?? failed.error));
      else resolve();
    }),
  );
}

let previousManual;
async function manualSide(title, network) {
  setTitle(title);
  const repository = `${REGISTRY}/${app}/manual-web`;
  const tag = `${repository}:${Date.now()}`;
  const started = performance.now();
  const cacheFrom = previousManual ? [previousManual.tag] : [`${REGISTRY}/${app}/web:r1`];
  // The Engine API's BuildKit build, as Skiff's build module sends it: the
  // same request a hand-written script would make.
  const built = await buildImage(docker, {
    contextDir: join(dir, "web"),
    tags: [tag],
    cacheFrom,
    labels: manualLabel,
  });
  if (!built.ok) throw new Error(`manual build failed: ${built.message}`);
  await follow(await docker.getImage(tag).push({ authconfig: {} }));
  const container = await docker.createContainer({
    Image: tag,
    Labels: manualLabel,
    Env: ["API_URL=http://api:4000"],
    ExposedPorts: { "3000/tcp": {} },
    HostConfig: { PortBindings: { "3000/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] } },
    NetworkingConfig: { EndpointsConfig: { [network]: {} } },
  });
  await container.start();
  const info = await container.inspect();
  const port = Number(info.NetworkSettings.Ports["3000/tcp"]?.[0]?.HostPort);
  await until(
    "the manual container's /healthz",
    async () => (await get(port, "x", "/healthz")) !== undefined,
  );
  await until("the new title from the manual container", async () =>
    (await get(port, "x", "/"))?.includes(title),
  );
  const ms = performance.now() - started;
  if (previousManual) await docker.getContainer(previousManual.id).remove({ force: true });
  previousManual = { id: container.id, tag };
  return ms;
}

async function main() {
  const busy = await cpuBusy();
  progress(`app ${app}; CPUs ${(busy * 100).toFixed(0)} % busy before the run`);
  cpSync(join(ROOT, "examples", "shop"), dir, { recursive: true });
  const compose = readFileSync(join(dir, "compose.yaml"), "utf8")
    .replace(/\nx-skiff:\n {2}test:\n(?: {4}- .*\n)+/, "\n")
    .replace("replicas: 2", "replicas: 1");
  if (/^x-skiff:/m.test(compose) || !compose.includes("replicas: 1")) {
    throw new Error("examples/shop/compose.yaml changed: cannot drop its tests or set 1 replica");
  }
  writeFileSync(join(dir, "compose.yaml"), compose);
  await git(["init", "-q", "-b", "main"], { cwd: dir, env });
  await git(["add", "-A"], { cwd: dir, env });
  await git(["commit", "-q", "-m", "first"], { cwd: dir, env });
  await skiff(["apps:create", app]);
  await git(["push", remoteOf(server, app), "main"], { cwd: dir, env, secret: server.token });
  const [net] = await docker.listNetworks({ filters: { label: [`skiff.app=${app}`] } });
  if (!net) throw new Error(`no network of ${app}`);
  const results = [];
  for (let i = 1; i <= runs; i++) {
    const skiffMs = await skiffSide(`Shop skiff ${i}`);
    const manualMs = await manualSide(`Shop manual ${i}`, net.Name);
    progress(
      `run ${i}: skiff ${(skiffMs / 1000).toFixed(2)} s, manual ${(manualMs / 1000).toFixed(2)} s`,
    );
    results.push({ skiffMs, manualMs });
  }
  return { busy, results };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

function report({ busy, results }, machine) {
  const skiffMs = median(results.map((r) => r.skiffMs));
  const manualMs = median(results.map((r) => r.manualMs));
  const ratio = skiffMs / manualMs;
  const overhead = (skiffMs - manualMs) / 1000;
  const met = ratio <= 1.1 && overhead <= 1.5;
  return [
    machine,
    "",
    `Median of ${results.length} runs, alternating; CPUs ${(busy * 100).toFixed(0)} % busy before the run.`,
    "",
    "| run | skiff: git push → new version through the edge | manual: build, push, run, healthy, new version |",
    "|---|---:|---:|",
    ...results.map(
      (r, i) =>
        `| ${i + 1} | ${(r.skiffMs / 1000).toFixed(2)} s | ${(r.manualMs / 1000).toFixed(2)} s |`,
    ),
    `| **median** | **${(skiffMs / 1000).toFixed(2)} s** | **${(manualMs / 1000).toFixed(2)} s** |`,
    "",
    `Target: ≤ 1.10 × manual and ≤ 1.5 s of overhead: **${met ? "met" : "not met"}** (${ratio.toFixed(2)} ×, ${overhead >= 0 ? "+" : ""}${overhead.toFixed(2)} s).`,
  ].join("\n");
}

const command = `node bench/push-to-live.mjs${options.runs !== "3" ? ` --runs ${runs}` : ""}${options.write ? " --write" : ""}`;
try {
  const measured = await main();
  const markdown = report(measured, await machineLine(command));
  process.stdout.write(`${markdown}\n`);
  if (options.write) writeSection("bench/push-to-live", markdown);
} finally {
  for (const c of await docker.listContainers({
    all: true,
    filters: { label: [`skiff-bench.push-to-live=${app}`] },
  })) {
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => {});
  }
  for (const image of await docker.listImages({
    filters: { label: [`skiff-bench.push-to-live=${app}`] },
  })) {
    await docker
      .getImage(image.Id)
      .remove({ force: true })
      .catch(() => {});
  }
  await skiff(["apps:destroy", app, "--confirm", app], { allowFailure: true });
  rmSync(root, { recursive: true, force: true });
}
