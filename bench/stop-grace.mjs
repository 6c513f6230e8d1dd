#!/usr/bin/env node
// bench/stop-grace: does a push wait for the old replica's stop_grace_period?
//
//   node bench/stop-grace.mjs [--runs N] [--write]
//
// Two apps on the busybox test image, the same but for how their server's
// PID 1 takes SIGTERM, each with stop_grace_period: 10s:
//   exits:   `trap 'exit 0' TERM`: the old replica is gone at once;
//   ignores: `trap '' TERM`: only the SIGKILL after 10 s ends it, as with a
//            server that does not handle SIGTERM as PID 1.
// Each run changes each app's page once (the app that goes first
// alternates) and times the whole `git push`. The push returns once the new
// release is live; the old replica stops afterwards, so the two medians
// should be about the same (the baseline is the app that exits at once).
// The old replica of the "ignores" app is seen gone about 10 s later, which
// the bench also records. Everything made is removed at the end.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  api,
  benchArgs,
  destroyApp,
  dockerClient,
  git,
  gitEnv,
  median,
  onInterrupt,
  progress,
  runBench,
  seconds,
  serverConfig,
  tail,
} from "./lib/platform.mjs";

const IMAGE = "skiff-test/busybox:1";
const GRACE_S = 10;

const { options, usage } = benchArgs("node bench/stop-grace.mjs [--runs N] [--write]", {
  runs: { type: "string", default: "5" },
});
const runs = Number(options.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 20) usage("--runs takes 1 to 20");

const server = serverConfig();
const docker = dockerClient();
const interrupt = onInterrupt();
const suffix = Math.random().toString(16).slice(2, 8);

const VARIANTS = {
  exits: { label: "PID 1 exits on SIGTERM", trap: "trap 'exit 0' TERM" },
  ignores: { label: "PID 1 ignores SIGTERM", trap: "trap '' TERM" },
};

function files(trap, version) {
  return {
    "compose.yaml": [
      "services:",
      "  web:",
      "    build: .",
      `    command: ["sh", "-c", "${trap}; httpd -f -p 8080 -h /www & wait"]`,
      `    stop_grace_period: ${GRACE_S}s`,
      "    x-skiff: { port: 8080, health: { path: /, interval: 250ms, timeout: 15s } }",
      "",
    ].join("\n"),
    Dockerfile: `FROM ${IMAGE}\nCOPY index.html /www/index.html\n`,
    "index.html": `${version}\n`,
  };
}

async function appCopy(key) {
  const app = `bench-${suffix}-stop-${key}`;
  const root = mkdtempSync(join(tmpdir(), "skiff-bench-stop-"));
  const dir = join(root, "src");
  const env = gitEnv(join(root, "home"));
  mkdirSync(dir, { recursive: true });
  const write = (version) => {
    for (const [name, text] of Object.entries(files(VARIANTS[key].trap, version))) {
      writeFileSync(join(dir, name), text);
    }
  };
  write("v0");
  await git(["init", "-q", "-b", "main"], { cwd: dir, env });
  const remote = `${server.url.replace("://", `://bench:${encodeURIComponent(server.token)}@`)}/git/${app}.git`;
  const push = async (version) => {
    write(version);
    await git(["add", "-A"], { cwd: dir, env });
    await git(["commit", "-q", "-m", version], { cwd: dir, env });
    const started = performance.now();
    const result = await git(["push", remote, "HEAD:refs/heads/main"], {
      cwd: dir,
      env,
      secret: server.token,
      allowFailure: true,
    });
    if (result.code !== 0) throw new Error(`push of ${app} failed:\n${tail(result.output)}`);
    return performance.now() - started;
  };
  return { app, push, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** How long after `since` (performance.now()) the app's containers of release `release` were all gone. */
async function goneAfter(app, release, since) {
  const deadline = performance.now() + (GRACE_S + 30) * 1000;
  while (performance.now() < deadline) {
    const left = await docker.listContainers({
      all: true,
      filters: { label: [`skiff.app=${app}`, `skiff.release=${release}`] },
    });
    if (left.length === 0) return performance.now() - since;
    await sleep(100);
  }
  throw new Error(
    `${app}: the replica of r${release} was still there ${GRACE_S + 30} s after the push`,
  );
}

async function main() {
  const copies = {};
  try {
    for (const key of Object.keys(VARIANTS)) {
      copies[key] = await appCopy(key);
      await api(server, "POST", "/apps", { name: copies[key].app });
      progress(`${key}: first push of ${copies[key].app}`);
      await copies[key].push("v1");
    }
    const push = { exits: [], ignores: [] };
    const gone = { exits: [], ignores: [] };
    for (let run = 1; run <= runs; run++) {
      interrupt.check();
      const order = run % 2 === 1 ? ["exits", "ignores"] : ["ignores", "exits"];
      for (const key of order) {
        const started = performance.now();
        const ms = await copies[key].push(`v${run + 1}`);
        // Release numbers: r1 was the first push, so run k makes r(k+1) and retires r(k).
        const goneMs = await goneAfter(copies[key].app, run, started);
        push[key].push(ms);
        gone[key].push(goneMs);
        progress(
          `run ${run}/${runs} ${key}: push ${seconds(ms)}, old replica gone after ${seconds(goneMs)}`,
        );
      }
    }
    return { push, gone };
  } finally {
    for (const copy of Object.values(copies)) {
      await destroyApp(copy.app);
      copy.remove();
    }
  }
}

function report({ push, gone }, machine) {
  const row = (key) =>
    `| ${VARIANTS[key].label} | ${seconds(Math.min(...push[key]))} | ${seconds(median(push[key]))} | ${seconds(Math.max(...push[key]))} | ${seconds(median(gone[key]))} |`;
  const ratio = median(push.ignores) / median(push.exits);
  return [
    machine,
    "",
    `${runs} runs of each, stop_grace_period ${GRACE_S} s, one web replica; the app that goes first alternates.`,
    "",
    "| server | push min | push median | push max | old replica gone after (median, from the push's start) |",
    "|---|---|---|---|---|",
    row("exits"),
    row("ignores"),
    "",
    `A push to the app whose server ignores SIGTERM takes ${ratio.toFixed(2)} × the push to the one that exits at once (medians): the push returns once the release is live, and the old replica runs out its grace period afterwards.`,
    "",
  ].join("\n");
}

await runBench("stop-grace", { server, options, interrupt }, main, report);
