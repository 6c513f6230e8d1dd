#!/usr/bin/env node
// bench/push-to-live: from `git push` of a one-line change to the first
// answer of the new version, against the same Docker work done by hand in
// the same run.
//
//   node bench/push-to-live.mjs [--runs N] [--variant comparable|shipped|both] [--write]
//
// Two variants, each its own uniquely named copy of examples/shop:
//   comparable: the x-skiff.test entries dropped and web at 1 replica, so
//               that Skiff's pipeline does what the hand-run script does,
//               plus its own bookkeeping;
//   shipped:    examples/shop as it is: web and api tests run, 2 web replicas.
// Each run changes web's page title once for each side; the side that goes
// first alternates from run to run, so both see the same cache state:
//   skiff:  `git push`; GET / through the edge every 20 ms (a new connection
//           each) until the new title shows;
//   manual: what a person would script with the Engine API for the one
//           service that changed: build web with BuildKit (`POST
//           /build?version=2`, the same tar context, BUILDKIT_INLINE_CACHE=1,
//           `cachefrom` the previous image in the registry, as Skiff's build
//           stage sends it), push it to the registry, create and start a
//           container on the app's network with its port published on
//           127.0.0.1, GET /healthz every 20 ms until it answers 200, then
//           GET / until the new title shows. No edge, no tests, no release.
// Skiff's side is broken down by its run's events (bench/lib/platform.mjs
// runTimeline). Target, comparable variant: Skiff at most 0.30 s more than
// the hand-run work (median of the runs); the shipped variant's tests and
// second replica are work the script does not do, so it has none. Everything made is removed at the end: the apps
// (their containers, routes and registry tags), and the manual side's
// containers and local images, found by their label.

import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  api,
  benchArgs,
  cpuBusy,
  destroyApp,
  dockerClient,
  median,
  onInterrupt,
  percent,
  progress,
  runBench,
  runTimeline,
  seconds,
  serverConfig,
  setTitle,
  shopCopy,
  skiff,
  tail,
  titleOf,
} from "./lib/platform.mjs";

const POLL_MS = 20;
const LABEL = "skiff-bench.push-to-live";

const { options, usage } = benchArgs(
  "node bench/push-to-live.mjs [--runs N] [--variant comparable|shipped|both] [--write]",
  {
    runs: { type: "string", default: "5" },
    variant: { type: "string", default: "both" },
  },
);
const runs = Number(options.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 20) usage("--runs takes 1 to 20");
if (!["comparable", "shipped", "both"].includes(options.variant))
  usage("--variant takes comparable, shipped or both");

const server = serverConfig();
const docker = dockerClient();
const interrupt = onInterrupt();
const suffix = Math.random().toString(16).slice(2, 8);

const VARIANTS = {
  comparable: {
    label: "comparable: no tests, 1 web replica",
    targetOverheadMs: 300,
    edit(dir) {
      const file = join(dir, "compose.yaml");
      const compose = readFileSync(file, "utf8");
      const edited = compose
        .replace(/\nx-skiff:\n {2}test:\n(?: {4}- .*\n)+/, "\n")
        .replace("replicas: 2", "replicas: 1");
      if (/\nx-skiff:\n {2}test:/.test(edited) || !edited.includes("replicas: 1"))
        throw new Error(`${file}: cannot drop its tests or set 1 replica; examples/shop changed`);
      writeFileSync(file, edited);
    },
  },
  shipped: {
    label: "as shipped: tests of web and api, 2 web replicas",
    edit() {},
  },
};

/** GET http://127.0.0.1:PORT/PATH on a new connection; status and body, or undefined. */
function get(port, host, path) {
  return new Promise((resolve) => {
    const req = request(
      { host: "127.0.0.1", port, path, headers: { host }, agent: false, timeout: 2000 },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode, body }));
        res.on("error", () => resolve(undefined));
      },
    );
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
    req.end();
  });
}

/** Polls every 20 ms until `probe` is true; the time it became true (performance.now()). */
async function until(what, probe, timeoutMs = 180_000) {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await probe()) return performance.now();
    await sleep(POLL_MS);
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
}

async function skiffSide(ctx, title) {
  setTitle(ctx.copy.dir, title);
  await ctx.copy.commit(title);
  const since = Date.now();
  const started = performance.now();
  const pushing = ctx.copy.push({ allowFailure: true });
  let pushDone;
  pushing.then((r) => {
    pushDone = r;
  });
  const seen = await until(`"${title}" through the edge`, async () => {
    if (pushDone && pushDone.code !== 0)
      throw new Error(`the push failed:\n${tail(pushDone.output)}`);
    const answer = await get(server.edgePort, `${ctx.app}.localhost`, "/");
    return answer?.status === 200 && titleOf(answer.body) === title;
  });
  const pushed = await pushing;
  if (pushed.code !== 0) throw new Error(`the push failed:\n${tail(pushed.output)}`);
  const { runs: list } = await api(server, "GET", `/apps/${ctx.app}/runs`);
  const newest = list.reduce((a, b) => (b.number > a.number ? b : a));
  const timeline = await runTimeline(server, ctx.app, newest.number, since);
  return {
    ms: seen - started,
    pushMs: pushed.ended - started,
    timeline,
    seenAt: since + (seen - started),
  };
}

/** A streaming Engine API call; resolves with its JSON messages, rejects on an error inside the stream. */
function engineStream(dialOptions) {
  return new Promise((resolve, reject) => {
    docker.modem.dial(
      {
        ...dialOptions,
        isStream: true,
        statusCodes: { 200: true, 400: "bad parameter", 404: "not found", 500: "server error" },
      },
      (error, stream) => {
        if (error) return reject(error);
        let text = "";
        stream.setEncoding("utf8");
        stream.on("data", (chunk) => {
          text += chunk;
        });
        stream.on("error", reject);
        stream.on("end", () => {
          const messages = text
            .split("\n")
            .filter(Boolean)
            .map((line) => JSON.parse(line));
          const failed = messages.find((m) => m.error || m.errorDetail);
          if (failed) reject(new Error(failed.error ?? failed.errorDetail.message));
          else resolve(messages);
        });
      },
    );
  });
}

/** The same Docker work by hand, for the one service that changed. */
async function manualSide(ctx, title) {
  setTitle(ctx.copy.dir, title);
  const tag = `${ctx.registry}/${ctx.app}/manual-web:${Date.now()}`;
  const started = performance.now();
  // The build context as tar(1) makes it, as the Docker CLI would send it.
  const tar = spawn("tar", ["-C", join(ctx.copy.dir, "web"), "-c", "."], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await engineStream({
    path: "/build?",
    method: "POST",
    options: {
      version: "2",
      t: tag,
      dockerfile: "Dockerfile",
      buildargs: JSON.stringify({ BUILDKIT_INLINE_CACHE: "1" }),
      cachefrom: JSON.stringify([ctx.previousManualTag ?? ctx.skiffWebImage]),
      labels: JSON.stringify({ [LABEL]: ctx.app }),
    },
    headers: { "Content-Type": "application/x-tar" },
    file: tar.stdout,
  });
  const built = performance.now();
  const [repository, version] = [
    tag.slice(0, tag.lastIndexOf(":")),
    tag.slice(tag.lastIndexOf(":") + 1),
  ];
  await engineStream({
    path: `/images/${repository}/push?`,
    method: "POST",
    options: { tag: version },
    headers: { "X-Registry-Auth": Buffer.from("{}").toString("base64") },
  });
  const pushed = performance.now();
  const container = await docker.createContainer({
    Image: tag,
    Labels: { [LABEL]: ctx.app },
    Env: ["API_URL=http://api:4000"],
    ExposedPorts: { "3000/tcp": {} },
    HostConfig: { PortBindings: { "3000/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] } },
    NetworkingConfig: { EndpointsConfig: { [ctx.network]: {} } },
  });
  await container.start();
  const info = await container.inspect();
  const port = Number(info.NetworkSettings.Ports["3000/tcp"]?.[0]?.HostPort);
  const running = performance.now();
  const healthy = await until(
    "the manual container's /healthz",
    async () => (await get(port, "localhost", "/healthz"))?.status === 200,
  );
  const seen = await until(`"${title}" from the manual container`, async () => {
    const answer = await get(port, "localhost", "/");
    return answer?.status === 200 && titleOf(answer.body) === title;
  });
  // Outside the measurement: the previous hand-run container goes.
  if (ctx.previousManualId) await docker.getContainer(ctx.previousManualId).remove({ force: true });
  ctx.previousManualId = container.id;
  ctx.previousManualTag = tag;
  return {
    ms: seen - started,
    buildMs: built - started,
    pushMs: pushed - built,
    startMs: running - pushed,
    healthyMs: healthy - running,
    firstMs: seen - healthy,
  };
}

async function variantRuns(key) {
  const variant = VARIANTS[key];
  const app = `bench-ptl-${key.slice(0, 4)}-${suffix}`;
  const copy = await shopCopy(server, app, variant.edit);
  let created = false;
  try {
    progress(`${variant.label}: app ${app}, first deploy`);
    await skiff(["apps:create", app]);
    created = true;
    const first = await copy.push({ allowFailure: true });
    if (first.code !== 0)
      throw new Error(`the first deploy of ${app} failed:\n${tail(first.output)}`);
    const status = await api(server, "GET", "/status");
    const registry = new URL(status.components.registry.address).host;
    const releases = await api(server, "GET", `/apps/${app}/releases`);
    const live = releases.releases.find((r) => r.number === releases.live);
    const skiffWebImage = live.images.find((i) => i.service === "web").image;
    const [network] = (await docker.listNetworks({ filters: { label: [`skiff.app=${app}`] } })).map(
      (n) => n.Name,
    );
    if (!network) throw new Error(`no network of ${app}`);
    const ctx = { app, copy, registry, skiffWebImage, network };
    const results = [];
    for (let i = 1; i <= runs; i++) {
      interrupt.check();
      const busy = await cpuBusy(2000);
      const order = i % 2 === 1 ? ["skiff", "manual"] : ["manual", "skiff"];
      const result = { busy, order };
      for (const side of order) {
        interrupt.check();
        result[side] =
          side === "skiff"
            ? await skiffSide(ctx, `Shop skiff ${i} ${suffix}`)
            : await manualSide(ctx, `Shop manual ${i} ${suffix}`);
        // Let the old replica stop and the CPUs settle before the other side goes.
        await sleep(3000);
      }
      progress(
        `  run ${i}/${runs} (${order.join(" first, then ")}; CPUs ${percent(busy)} busy before): skiff ${seconds(result.skiff.ms)} ` +
          `(push returned after ${seconds(result.skiff.pushMs)}), manual ${seconds(result.manual.ms)}`,
      );
      results.push(result);
    }
    return { key, label: variant.label, targetOverheadMs: variant.targetOverheadMs, app, results };
  } finally {
    // The hand-run containers first: the app's network cannot go while they are on it.
    await removeManual(app);
    if (created) await destroyApp(app);
    copy.remove();
  }
}

/** The manual side's containers and local images, by their label and this app. */
async function removeManual(app) {
  const filters = { label: [`${LABEL}=${app}`] };
  for (const c of await docker.listContainers({ all: true, filters })) {
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => {});
  }
  for (const image of await docker.listImages({ filters })) {
    for (const ref of image.RepoTags ?? [])
      await docker
        .getImage(ref)
        .remove()
        .catch(() => {});
  }
}

function report(variants, machine) {
  const s = seconds;
  const lines = [machine, ""];
  const verdicts = [];
  for (const v of variants) {
    const n = v.results.length;
    const med = (pick) =>
      median(v.results.map(pick).filter((x) => x !== undefined && !Number.isNaN(x)));
    const skiffMs = med((r) => r.skiff.ms);
    const manualMs = med((r) => r.manual.ms);
    const ratio = skiffMs / manualMs;
    const overhead = skiffMs - manualMs;
    const met = v.targetOverheadMs === undefined ? undefined : overhead <= v.targetOverheadMs;
    verdicts.push({ v, ratio, overhead, met });
    const t = (pick) => s(med((r) => pick(r.skiff.timeline)));
    const apiOf = (r) => r.skiff.timeline.services?.api;
    const webOf = (r) => r.skiff.timeline.services?.web;
    lines.push(
      `### ${v.label}`,
      "",
      `App \`${v.app}\`, ${n} runs, the side that goes first alternating. Medians.`,
      "",
      "| | skiff: `git push` → new title through the edge | manual: build, push, run, healthy, new title | skiff ÷ manual | skiff − manual |",
      "|---|---:|---:|---:|---:|",
      ...v.results.map(
        (r, i) =>
          `| run ${i + 1} (${r.order[0]} first; CPUs ${percent(r.busy)} busy before) | ${s(r.skiff.ms)} | ${s(r.manual.ms)} | ${(r.skiff.ms / r.manual.ms).toFixed(2)} × | +${s(r.skiff.ms - r.manual.ms)} |`,
      ),
      `| **median** | **${s(skiffMs)}** | **${s(manualMs)}** | **${ratio.toFixed(2)} ×** | **+${s(overhead)}** |`,
      "",
      met === undefined
        ? "No target: the tests and the second replica are work the script does not do."
        : `Target: at most +${s(v.targetOverheadMs)} over the hand-run work: **${met ? "met" : "not met"}** (+${s(overhead)}, ${ratio.toFixed(2)} ×).`,
      "",
      "Manual side, median: " +
        `build ${s(med((r) => r.manual.buildMs))}, push ${s(med((r) => r.manual.pushMs))}, create + start ${s(med((r) => r.manual.startMs))}, ` +
        `started → /healthz 200 ${s(med((r) => r.manual.healthyMs))}, → new title ${s(med((r) => r.manual.firstMs))}.`,
      "",
      "Skiff side, median, from its run's events (time zero: the push starts):",
      "",
      "| push → run starts | source | build | test | publish | api replaced (start → healthy) | web: start → healthy | web: healthy → in the edge's rotation | → first new answer through the edge | release live → deploy stage ends (old replicas stop in the background) | whole `git push` |",
      "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      `| ${t((x) => x.queuedMs)} | ${t((x) => x.stages.source)} | ${t((x) => x.stages.build)} | ${t((x) => x.stages.test)} | ${t((x) => x.stages.publish)} | ${v.results.some((r) => apiOf(r)?.healthyMs !== undefined) ? s(med((r) => apiOf(r)?.healthyMs)) : "not replaced (unchanged)"} | ${s(med((r) => webOf(r)?.healthyMs))} | ${s(med((r) => webOf(r)?.rotationMs))} | ${s(med((r) => r.skiff.seenAt - (r.skiff.timeline.webRotationAt ?? Number.NaN)))} | ${t((x) => x.stopOldMs)} | ${s(med((r) => r.skiff.pushMs))} |`,
      "",
    );
  }
  return { markdown: `${lines.join("\n")}\n`, verdicts };
}

async function main() {
  const keys = options.variant === "both" ? ["comparable", "shipped"] : [options.variant];
  const results = [];
  for (const key of keys) results.push(await variantRuns(key));
  return results;
}

await runBench(
  "push-to-live",
  { server, options, interrupt },
  main,
  (variants, machine) => report(variants, machine).markdown,
);
