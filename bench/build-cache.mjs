#!/usr/bin/env node
// bench/build-cache: how long a push takes to build when the layer cache is
// cold, warm, or gone from the builder but kept in the registry.
//
//   node bench/build-cache.mjs [--runs N] [--write]
//
// Each run creates a uniquely named app on the local Skiff server and pushes
// examples/shop, with bench/fixtures/dependency-step swapped in, to it three times:
//   1. cold:  a new app, so no earlier release to take cache from, and a
//             unique marker in every package.json and dependency step, so
//             nothing from an earlier run is in the builder's cache;
//   2. warm:  a one-line code change, on the same builder;
//   3. fresh: another one-line code change, after every local image of the
//             app (127.0.0.1:5000/APP/*) and every BuildKit cache record of
//             this run is removed: only the registry still holds the layers,
//             and the build can only take them from the previous release's
//             image there (Skiff's `cachefrom`, BuildKit inline cache).
// The app is then destroyed and its images and cache records removed. Other
// work shares the Docker daemon, so nothing is pruned globally: records are
// found by the run's unique id (see pruneRunBuildCache).
//
// Prints a markdown report to stdout (progress goes to stderr); --write also
// puts it into docs/BENCHMARKS.md between the build-cache markers.
//
// Needs the server from scripts/quickstart (SKIFF_URL, SKIFF_TOKEN or
// $SKIFF_HOME/admin-token, as the CLI) and the base image
// 127.0.0.1:5000/bases/node:bookworm (`./bin/skiff bases:build node --packages nodejs`).

import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  benchArgs,
  cpuBusy,
  dockerClient,
  git,
  gitEnv,
  median,
  onInterrupt,
  progress,
  seconds,
  api as serverApi,
  serverConfig,
  tail,
  writeSection,
} from "./lib/platform.mjs";

// The app is examples/shop; the benchmark only swaps in a Dockerfile with a
// realistic dependency step, its script and the package.json files it reads.
const EXAMPLE = fileURLToPath(new URL("../examples/shop/", import.meta.url));
const DEPENDENCY_STEP = fileURLToPath(new URL("./fixtures/dependency-step/", import.meta.url));
const BASE_IMAGE = "127.0.0.1:5000/bases/node:bookworm";
const SERVICES = ["web", "api"];
const STAGES = ["source", "build", "test", "publish"];
const PHASES = [
  { key: "cold", label: "cold: new app, empty builder cache" },
  { key: "warm", label: "one-line change, warm builder" },
  { key: "fresh", label: "one-line change, fresh builder (cache from the registry)" },
];
const TARGET_RATIO = 0.1;
const PUSH_TIMEOUT_MS = 15 * 60_000;

const { options, usage } = benchArgs("node bench/build-cache.mjs [--runs N] [--write]", {
  runs: { type: "string", default: "3" },
});
options.runs = Number(options.runs);
if (!Number.isInteger(options.runs) || options.runs < 1 || options.runs > 50)
  usage("--runs takes a whole number, 1 to 50");
const interrupt = onInterrupt();

/** git that resolves with its code and output (and never throws on a failed push). */
function gitRun(args, options) {
  return git(args, { ...options, allowFailure: true });
}

/**
 * The fixture, made unique to this run: `id` goes into every package.json
 * (which the dependency step reads, so its output and cache key are new) and
 * into the dependency step's command line (so its BuildKit cache records
 * carry the id in their description and can be found by it).
 */
function writeSource(dir, id) {
  cpSync(EXAMPLE, dir, { recursive: true });
  for (const service of SERVICES) {
    cpSync(join(DEPENDENCY_STEP, "Dockerfile"), join(dir, service, "Dockerfile"));
    cpSync(join(DEPENDENCY_STEP, "build-deps.mjs"), join(dir, service, "build-deps.mjs"));
    cpSync(join(DEPENDENCY_STEP, `${service}.package.json`), join(dir, service, "package.json"));
    const manifestPath = join(dir, service, "package.json");
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
    manifest.config = { ...manifest.config, benchRun: id };
    writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
    const dockerfilePath = join(dir, service, "Dockerfile");
    const dockerfile = readFileSync(dockerfilePath, "utf8");
    const unique = dockerfile.replace("--build-id=fixture", `--build-id=${id}`);
    if (unique === dockerfile) {
      throw new Error(
        `${dockerfilePath}: no "--build-id=fixture" to make unique; the fixture changed`,
      );
    }
    writeFileSync(dockerfilePath, unique);
  }
}

/** The one-line code change: the page title in web/page.js. */
function changeOneLine(dir, label) {
  const file = join(dir, "web", "page.js");
  const before = readFileSync(file, "utf8");
  const after = before.replace(/<title>[^<]*<\/title>/, `<title>Shop (${label})</title>`);
  if (after === before) throw new Error(`${file}: no <title> to change; the fixture changed`);
  writeFileSync(file, after);
}

async function commit(dir, env, message) {
  await git(["add", "-A"], { cwd: dir, env });
  await git(["commit", "-q", "-m", message], { cwd: dir, env });
}

/** Local image references of the app: REGISTRY/APP/<service>:<tag>, exactly. */
async function appImageRefs(docker, registry, app) {
  const prefix = `${registry}/${app}/`;
  const images = await docker.listImages();
  return images.flatMap((image) => image.RepoTags ?? []).filter((ref) => ref.startsWith(prefix));
}

async function removeAppImages(docker, registry, app) {
  const refs = await appImageRefs(docker, registry, app);
  for (const ref of refs) {
    await docker
      .getImage(ref)
      .remove()
      .catch((error) => {
        if (error.statusCode !== 404) throw error;
      });
  }
  return refs;
}

async function buildCacheRecords(docker) {
  const df = await docker.df();
  return df.BuildCache ?? [];
}

/**
 * The BuildKit cache records of one benchmark run, without touching anyone
 * else's: every record whose description holds the run's id (the dependency
 * step, `RUN node build-deps.mjs --build-id=ID`), every record built on top of
 * those (the code COPY, ...), and every ancestor that was created since the
 * run started and has no child outside the set (the `COPY package.json`,
 * whose content is unique to the run). Ancestors shared with other builds
 * (WORKDIR on the base image, the base image's layers) stay.
 *
 * Not attributable and left alone: the daemon's `http url
 * http://build-context-…` records of the uploaded contexts. A changed
 * context never matches one, so they cannot give the fresh builder a hit
 * for the changed service.
 */
function runRecords(records, id, since) {
  const selected = new Set(records.filter((r) => r.Description.includes(id)).map((r) => r.ID));
  const parentsOf = (r) => [r.Parent, ...(r.Parents ?? [])].filter(Boolean);
  const children = new Map();
  for (const record of records) {
    for (const parent of parentsOf(record)) {
      children.set(parent, [...(children.get(parent) ?? []), record.ID]);
    }
  }
  const byId = new Map(records.map((r) => [r.ID, r]));
  let grew = selected.size > 0;
  while (grew) {
    grew = false;
    for (const record of records) {
      if (selected.has(record.ID)) continue;
      const descendant = parentsOf(record).some((p) => selected.has(p));
      const ownAncestor =
        (children.get(record.ID) ?? []).length > 0 &&
        (children.get(record.ID) ?? []).every((c) => selected.has(c)) &&
        Date.parse(record.CreatedAt) >= since &&
        !record.Description.startsWith("imported");
      if (descendant || ownAncestor) {
        selected.add(record.ID);
        grew = true;
      }
    }
  }
  // Children first: a record is only prunable once nothing is built on it.
  const depth = (recordId, seen = new Set()) => {
    if (seen.has(recordId)) return 0;
    seen.add(recordId);
    const kids = (children.get(recordId) ?? []).filter((c) => selected.has(c));
    return kids.length === 0 ? 0 : 1 + Math.max(...kids.map((c) => depth(c, seen)));
  };
  return [...selected]
    .map((recordId) => byId.get(recordId))
    .sort((a, b) => depth(a.ID) - depth(b.ID));
}

/** POST /build/prune?filters={"id":[ID]}: ids match by prefix, so one record at a time. */
function pruneRecord(docker, id) {
  return new Promise((resolve, reject) => {
    docker.modem.dial(
      {
        path: "/build/prune?",
        method: "POST",
        options: { filters: JSON.stringify({ id: [id] }) },
        statusCodes: { 200: true, 500: "server error" },
      },
      (error, result) => (error ? reject(error) : resolve(result?.CachesDeleted ?? [])),
    );
  });
}

async function pruneRunBuildCache(docker, id, since) {
  const deleted = new Set();
  for (let round = 0; round < 10; round++) {
    const records = runRecords(await buildCacheRecords(docker), id, since);
    if (records.length === 0) break;
    let progressed = false;
    for (const record of records) {
      for (const gone of await pruneRecord(docker, record.ID)) {
        deleted.add(gone);
        progressed = true;
      }
    }
    if (!progressed) break;
  }
  return [...deleted];
}

/** The newest run of the app, with its stages and build steps. */
async function latestRun(api, app) {
  const { runs } = await api("GET", `/apps/${app}/runs`);
  const newest = runs.reduce((a, b) => (b.number > a.number ? b : a));
  return api("GET", `/apps/${app}/runs/${newest.number}`);
}

async function push(ctx, phase) {
  const { api, app, dir, env, remote, token } = ctx;
  const result = await gitRun(["push", "--progress", remote, "HEAD:refs/heads/main"], {
    cwd: dir,
    env,
    secret: token,
    timeoutMs: PUSH_TIMEOUT_MS,
  });
  const { run, steps } = await latestRun(api, app).catch(() => ({}));
  if (result.code !== 0 || run?.status !== "succeeded") {
    throw new Error(
      `${phase} push to ${app} failed (git exit ${result.code}, run ${run?.number ?? "?"} ${run?.status ?? "not found"}):\n${tail(result.output)}`,
    );
  }
  const stages = Object.fromEntries(run.stages.map((s) => [s.name, s.durationMs ?? 0]));
  return { pushMs: result.ms, stages, steps, runNumber: run.number };
}

/**
 * Scales every service of the app to 0 replicas, so no container holds the
 * images a fresh builder must not have. The answer is NDJSON progress whose
 * last line is the result.
 */
async function scaleToZero({ serverUrl, token, docker }, app) {
  const response = await fetch(`${serverUrl}/api/v1/apps/${app}/scale`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(Object.fromEntries(SERVICES.map((service) => [service, 0]))),
    signal: AbortSignal.timeout(120_000),
  });
  const lines = (await response.text()).trim().split("\n");
  const result = response.ok ? JSON.parse(lines.at(-1) || "{}") : {};
  if (result.ok !== true) {
    throw new Error(`scaling ${app} to 0 failed: HTTP ${response.status} ${lines.at(-1)}`);
  }
  // The replicas left the edge; they stop in the background with their grace period.
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const left = await docker.listContainers({
      all: true,
      filters: { label: [`skiff.app=${app}`] },
    });
    if (left.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${app}'s replicas were still there 60 s after scaling to 0`);
}

async function oneRun(ctx, index, total) {
  const { api, docker, registry, serverUrl, token } = ctx;
  const id = `bench-${randomBytes(5).toString("hex")}`;
  const app = `${id}-cache`;
  const since = Date.now() - 1000;
  const root = mkdtempSync(join(tmpdir(), "skiff-bench-build-cache-"));
  const dir = join(root, "src");
  const env = gitEnv(join(root, "home"));
  const remote = `${serverUrl.replace("://", `://bench:${encodeURIComponent(token)}@`)}/git/${app}.git`;
  const run = { ...ctx, app, dir, env, remote };
  const tag = `[run ${index}/${total}, app ${app}]`;
  const results = { busy: await cpuBusy() };
  let created = false;
  try {
    await api("POST", "/apps", { name: app });
    created = true;
    writeSource(dir, id);
    await git(["init", "-q", "-b", "main"], { cwd: dir, env });
    await commit(dir, env, `shop fixture, ${id}`);

    interrupt.check();
    progress(
      `${tag} CPU busy before the run: ${results.busy === undefined ? "?" : `${Math.round(results.busy * 100)} %`}; cold push`,
    );
    results.cold = await push(run, "cold");
    progress(`${tag} cold: ${summary(results.cold)}`);

    changeOneLine(dir, "warm");
    await commit(dir, env, "one-line change (warm builder)");
    interrupt.check();
    progress(`${tag} warm push`);
    results.warm = await push(run, "warm");
    progress(`${tag} warm: ${summary(results.warm)}`);

    // The app is deployed: no replica may hold the images a fresh builder must not have.
    await scaleToZero(ctx, app);
    const images = await removeAppImages(docker, registry, app);
    const pruned = await pruneRunBuildCache(docker, id, since);
    const leftImages = await appImageRefs(docker, registry, app);
    const leftRecords = (await buildCacheRecords(docker)).filter((r) => r.Description.includes(id));
    if (leftImages.length > 0 || leftRecords.length > 0) {
      throw new Error(
        `the builder is not fresh: ${leftImages.length} images and ${leftRecords.length} cache records of ${app} are left`,
      );
    }
    progress(
      `${tag} fresh builder: removed ${images.length} image tags, ${pruned.length} cache records`,
    );
    changeOneLine(dir, "fresh");
    await commit(dir, env, "one-line change (fresh builder)");
    interrupt.check();
    progress(`${tag} fresh push`);
    results.fresh = await push(run, "fresh");
    progress(`${tag} fresh: ${summary(results.fresh)}`);
    results.removed = { images: images.length, records: pruned.length };
    return results;
  } finally {
    if (created) {
      // A push cut short can leave its run going on the server.
      const { runs = [] } = await api("GET", `/apps/${app}/runs`).catch(() => ({}));
      for (const r of runs.filter((r) => r.status === "queued" || r.status === "running")) {
        await api("POST", `/apps/${app}/runs/${r.number}/cancel`).catch(() => {});
      }
      await api("DELETE", `/apps/${app}?confirm=${app}`).catch((error) =>
        progress(`${tag} could not destroy the app: ${error.message}`),
      );
    }
    await removeAppImages(docker, registry, app).catch((error) =>
      progress(`${tag} could not remove its images: ${error.message}`),
    );
    await pruneRunBuildCache(docker, id, since).catch((error) =>
      progress(`${tag} could not prune its build cache: ${error.message}`),
    );
    rmSync(root, { recursive: true, force: true });
  }
}

function summary(result) {
  const cached = result.steps.filter((s) => s.cached).length;
  return `build ${seconds(result.stages.build)}, whole push ${seconds(result.pushMs)}, ${cached} of ${result.steps.length} steps CACHED`;
}

function ratio(value, base) {
  return `${(value / base).toFixed(3)} ×`;
}

function report(runs, machine, options) {
  const n = runs.length;
  const med = (phase, pick) => median(runs.map((r) => pick(r[phase])));
  const rows = [
    ...STAGES.map((stage) => ({ label: `${stage} stage`, pick: (p) => p.stages[stage] ?? 0 })),
    { label: "**whole `git push`** (wall clock)", pick: (p) => p.pushMs },
  ];
  const lines = [];
  lines.push(
    `Measured ${new Date().toISOString().slice(0, 10)} with \`node bench/build-cache.mjs --runs ${n}${options.write ? " --write" : ""}\`: ` +
      `${machine.cpu} (${machine.cores} cores), Docker Engine ${machine.docker}, Skiff ${machine.skiff}, registry ${machine.registry}. ` +
      `Median of ${n} run${n === 1 ? "" : "s"}; each ratio is the median over the cold median.`,
    "",
    `| median of ${n} | ${PHASES.map((p) => p.label).join(" | ")} |`,
    `|---|${PHASES.map(() => "---:").join("|")}|`,
  );
  const buildRow = { label: "**build stage**", pick: (p) => p.stages.build ?? 0 };
  for (const row of [buildRow, ...rows.filter((r) => r.label !== "build stage")]) {
    const cold = med("cold", row.pick);
    const cells = PHASES.map(({ key }) => {
      const value = med(key, row.pick);
      return key === "cold" ? seconds(value) : `${seconds(value)} (${ratio(value, cold)})`;
    });
    lines.push(`| ${row.label} | ${cells.join(" | ")} |`);
  }
  const coldBuild = med("cold", (p) => p.stages.build);
  const freshBuild = med("fresh", (p) => p.stages.build);
  const freshRatio = freshBuild / coldBuild;
  const perRun = runs.map((r) => r.fresh.stages.build / r.cold.stages.build);
  const verdict = freshRatio <= TARGET_RATIO ? "**met**" : "**not met**";
  const spread =
    n > 1
      ? ` Per run, fresh ÷ cold ranged from ${Math.min(...perRun).toFixed(3)} to ${Math.max(...perRun).toFixed(3)}.`
      : "";
  lines.push(
    "",
    `Target: fresh-builder code change ≤ ${TARGET_RATIO.toFixed(2)} × cold (build stage): ${verdict}, ` +
      `${freshRatio.toFixed(3)} × (${seconds(freshBuild)} against ${seconds(coldBuild)}).${spread}`,
    "",
    "Each run, build stage / whole push:",
    "",
    `| run | ${PHASES.map((p) => p.key).join(" | ")} | fresh ÷ cold (build) | removed before the fresh push | CPU busy before the run (other work) |`,
    `|---|${PHASES.map(() => "---:").join("|")}|---:|---|---:|`,
  );
  runs.forEach((r, i) => {
    const cells = PHASES.map(
      ({ key }) => `${seconds(r[key].stages.build)} / ${seconds(r[key].pushMs)}`,
    );
    lines.push(
      `| ${i + 1} | ${cells.join(" | ")} | ${ratio(r.fresh.stages.build, r.cold.stages.build)} | ${r.removed.images} image tags, ${r.removed.records} cache records | ${r.busy === undefined ? "?" : `${Math.round(r.busy * 100)} %`} |`,
    );
  });
  // The dependency step's own time in the cold push: what the cache saves.
  const depSteps = SERVICES.map((service) => {
    const ms = median(
      runs.map(
        (r) =>
          r.cold.steps.find((s) => s.service === service && /RUN node build-deps\.mjs/.test(s.name))
            ?.durationMs ?? 0,
      ),
    );
    return `${service} ${seconds(ms)}`;
  });
  lines.push(
    "",
    `The dependency step (\`RUN node build-deps.mjs\`) took ${depSteps.join(", ")} in the cold push (median; both services build at once).`,
    "",
    "Steps of the fresh-builder push, and in how many runs each was CACHED:",
    "",
    "| service | step | CACHED | time (median) |",
    "|---|---|---:|---:|",
  );
  for (const service of SERVICES) {
    const names = runs[0].fresh.steps
      .filter((s) => s.service === service)
      .map((s) => stepName(s.name));
    for (const name of names) {
      const step = (r) =>
        r.fresh.steps.find((s) => s.service === service && stepName(s.name) === name);
      const hits = runs.filter((r) => step(r)?.cached).length;
      const ms = median(runs.map((r) => step(r)?.durationMs ?? 0));
      lines.push(`| ${service} | \`${name}\` | ${hits} of ${n} | ${seconds(ms)} |`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** A step's name without the run's unique id, so steps of different runs compare. */
function stepName(name) {
  return name.replace(/--build-id=\S+/, "--build-id=…");
}

async function main() {
  const server = serverConfig();
  const api = (method, path, body) => serverApi(server, method, path, body);
  const status = await api("GET", "/status");
  const docker = dockerClient();
  const down = Object.entries(status.components ?? {})
    .filter(([name, c]) => ["docker", "registry"].includes(name) && !c.up)
    .map(([name, c]) => `${name}: ${c.error ?? "down"}`);
  if (down.length > 0) throw new Error(`Skiff's ${down.join("; ")} (see ./bin/skiff status)`);
  const registry = new URL(status.components.registry.address).host;
  try {
    await docker.getImage(BASE_IMAGE).inspect();
  } catch {
    throw new Error(
      `the fixture's base image ${BASE_IMAGE} is not on this Docker host: ./bin/skiff bases:build node --packages nodejs`,
    );
  }
  const version = await docker.version();
  const machine = {
    cpu: cpus()[0]?.model.trim() ?? "unknown CPU",
    cores: cpus().length,
    docker: version.Version,
    skiff: status.version,
    registry: `${status.components.registry.version ?? "registry"} at ${registry}`,
  };
  const ctx = { api, docker, registry, serverUrl: server.url, token: server.token };
  const runs = [];
  for (let i = 1; i <= options.runs; i++) {
    interrupt.check();
    runs.push(await oneRun(ctx, i, options.runs));
  }
  const markdown = report(runs, machine, options);
  process.stdout.write(markdown);
  if (options.write) writeSection("bench/build-cache", markdown);
}

main().catch((error) => {
  process.stderr.write(`bench/build-cache: ${error.message}\n`);
  process.exit(interrupt.interrupted ? 130 : 1);
});
