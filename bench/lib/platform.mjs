// What the deploy benchmarks share: the local Skiff server (found the way
// the CLI finds it), its API, git with no user config, the CLI, a copy of
// examples/shop as a git repository, HAProxy's runtime API, CPU accounting
// from /proc, machine facts, and the markers a report is written between in
// docs/BENCHMARKS.md.

import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createConnection } from "node:net";
import { cpus, homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import Docker from "dockerode";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const SKIFF = join(ROOT, "bin", "skiff");
const DOC = join(ROOT, "docs", "BENCHMARKS.md");
/** Clock ticks per second of /proc/PID/stat's utime and stime (USER_HZ). */
export const TICKS_PER_SECOND = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());

export function progress(message) {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`);
}

/**
 * A bench's command line: its own `options` (parseArgs form) plus --write
 * and --help. Returns the values and a `usage(message)` that prints the
 * message and `usageLine` and exits 2, for the bench's own range checks.
 */
export function benchArgs(usageLine, options) {
  const usage = (message) => {
    if (message) process.stderr.write(`${message}\n`);
    process.stderr.write(`usage: ${usageLine}\n`);
    process.exit(2);
  };
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        ...options,
        write: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    usage(error.message);
  }
  if (parsed.values.help) usage();
  return { options: parsed.values, usage };
}

/** The Docker Engine the server uses (SKIFF_DOCKER_SOCKET, as the server reads it). */
export function dockerClient() {
  return new Docker({ socketPath: process.env.SKIFF_DOCKER_SOCKET || "/var/run/docker.sock" });
}

/**
 * Ctrl-C once: the bench stops at its next step and cleans up; twice: it
 * exits at once and leaves what it made behind.
 */
export function onInterrupt() {
  const state = { interrupted: false };
  process.on("SIGINT", () => {
    if (state.interrupted) process.exit(130);
    state.interrupted = true;
    progress("interrupted: cleaning up (Ctrl-C again to leave the app behind)");
  });
  state.check = () => {
    if (state.interrupted) throw new Error("interrupted");
  };
  return state;
}

/** The server's URL, its token, the data directory and the edge port, found as the CLI finds them. */
export function serverConfig() {
  const home = process.env.SKIFF_HOME || join(homedir(), ".skiff");
  const url = (
    process.env.SKIFF_URL || `http://127.0.0.1:${process.env.SKIFF_PORT || 7070}`
  ).replace(/\/+$/, "");
  let token = process.env.SKIFF_TOKEN;
  if (!token) {
    try {
      token = readFileSync(join(home, "admin-token"), "utf8").trim();
    } catch {
      throw new Error(
        `no token: set SKIFF_TOKEN or start the server once so it writes ${join(home, "admin-token")} (scripts/quickstart)`,
      );
    }
  }
  return { home, url, token, edgePort: Number(process.env.SKIFF_EDGE_PORT || 8080) };
}

/** A JSON call to the server's API; throws with the server's message and hint. */
export async function api(server, method, path, body) {
  let response;
  try {
    response = await fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${server.token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (error) {
    throw new Error(`${method} ${path}: ${error.message} (is the server up? scripts/quickstart)`);
  }
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} /api/v1${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : {};
}

/** Runs a command; resolves with its exit code, output and wall time. Never rejects on a non-zero exit. */
export function run(command, args, { cwd, env, timeoutMs = 600_000, secret } = {}) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : 1),
        output: secret ? output.split(secret).join("***") : output,
        ms: performance.now() - started,
        ended: performance.now(),
      });
    });
  });
}

/** `bin/skiff ARGS`; throws with its output when it fails, unless `allowFailure`. */
export async function skiff(args, options = {}) {
  const result = await run(process.execPath, [SKIFF, ...args], options);
  if (result.code !== 0 && !options.allowFailure) {
    throw new Error(`skiff ${args.join(" ")} failed (${result.code}):\n${tail(result.output)}`);
  }
  return result;
}

/** An environment for git with no user or system config and never a prompt. */
export function gitEnv(home) {
  mkdirSync(home, { recursive: true });
  return {
    PATH: process.env.PATH,
    HOME: home,
    LANG: "C",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: join(home, "gitconfig-none"),
    GIT_TERMINAL_PROMPT: "0",
    GIT_AUTHOR_NAME: "Skiff bench",
    GIT_AUTHOR_EMAIL: "bench@skiff.invalid",
    GIT_COMMITTER_NAME: "Skiff bench",
    GIT_COMMITTER_EMAIL: "bench@skiff.invalid",
  };
}

/** git with no credential helper; throws with its output when it fails, unless `allowFailure`. */
export async function git(args, options) {
  const result = await run("git", ["-c", "credential.helper=", ...args], options);
  if (result.code !== 0 && !options.allowFailure) {
    throw new Error(`git ${args[0]} failed (${result.code}):\n${tail(result.output)}`);
  }
  return result;
}

/** The last lines of git's or the CLI's output, progress meters folded. */
export function tail(output, lines = 30) {
  return output
    .split("\n")
    .map((line) => line.split("\r").pop().trimEnd())
    .filter(Boolean)
    .slice(-lines)
    .join("\n");
}

/**
 * A working copy of examples/shop for one benchmark: a git repository in a
 * temp dir, `edit(dir)` applied before the first commit, and the app's
 * remote (the token as the password). `remove()` deletes the temp dir.
 */
export async function shopCopy(server, app, edit = () => {}) {
  const root = mkdtempSync(join(tmpdir(), "skiff-bench-"));
  const dir = join(root, "src");
  const env = gitEnv(join(root, "home"));
  try {
    cpSync(join(ROOT, "examples", "shop"), dir, { recursive: true });
    edit(dir);
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
  await git(["init", "-q", "-b", "main"], { cwd: dir, env });
  await git(["add", "-A"], { cwd: dir, env });
  await git(["commit", "-q", "-m", "examples/shop"], { cwd: dir, env });
  const remote = `${server.url.replace("://", `://bench:${encodeURIComponent(server.token)}@`)}/git/${app}.git`;
  const push = (extra = {}) =>
    git(["push", remote, "HEAD:refs/heads/main"], {
      cwd: dir,
      env,
      secret: server.token,
      ...extra,
    });
  const commit = async (message) => {
    await git(["add", "-A"], { cwd: dir, env });
    await git(["commit", "-q", "-m", message], { cwd: dir, env });
  };
  return {
    root,
    dir,
    env,
    push,
    commit,
    git: (args) => git(args, { cwd: dir, env }),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/**
 * Where a finished run's time went, from its stages and its event journal
 * (`GET /apps/APP/runs/N/events`, Server-Sent Events with a timestamp each),
 * in ms; `since` (epoch ms, e.g. when the push started) is time zero for
 * `queuedMs` and `liveAt`. The web service's rollout steps are found by the
 * deploy stage's log lines ("starting N replica(s)", "replica K of rN
 * healthy", "edge: N new replica(s) in the rotation", "drained and out",
 * "release rN is live").
 */
export async function runTimeline(server, app, number, since) {
  const { run } = await api(server, "GET", `/apps/${app}/runs/${number}`);
  const events = await runEvents(server, app, number);
  const at = (e) => Date.parse(e.at);
  const find = (list, pattern) => list.filter((e) => pattern.test(e.text));
  const diff = (a, b) => (a && b ? at(b) - at(a) : undefined);
  // Each service's rollout: started → healthy → in the edge's rotation → old ones out.
  const services = {};
  for (const name of new Set(
    events.filter((e) => e.stage === "deploy" && e.service).map((e) => e.service),
  )) {
    const own = events.filter(
      (e) => e.type === "log" && e.stage === "deploy" && e.service === name,
    );
    const starting = find(own, /^starting \d+ replica/)[0];
    const healthy = find(own, /^replica \d+ of r\d+ healthy/).at(-1);
    const rotation = find(own, /new replica\(s\) in the rotation/)[0];
    const drained = find(own, /drained and out/)[0];
    services[name] = {
      healthyMs: diff(starting, healthy),
      rotationMs: diff(healthy, rotation),
      drainMs: diff(rotation, drained),
      rotationAt: rotation ? at(rotation) : undefined,
    };
  }
  const live = events.find((e) => e.type === "log" && /^release r\d+ is live/.test(e.text));
  const deploy = run.stages.find((s) => s.name === "deploy");
  return {
    status: run.status,
    reason: events.findLast((e) => e.type === "run" && e.reason)?.reason,
    stages: Object.fromEntries(run.stages.map((s) => [s.name, s.durationMs ?? 0])),
    queuedMs: since === undefined ? undefined : Date.parse(run.startedAt) - since,
    services,
    webHealthyMs: services.web?.healthyMs,
    webRotationMs: services.web?.rotationMs,
    webDrainMs: services.web?.drainMs,
    webRotationAt: services.web?.rotationAt,
    liveAt: live && since !== undefined ? at(live) - since : undefined,
    // The old replicas stop in the background, after the deploy stage (retirements.ts).
    stopOldMs: live && deploy?.finishedAt ? Date.parse(deploy.finishedAt) - at(live) : undefined,
    events,
  };
}

/** A run's events, read from its SSE stream until the run's final event (it replays from the start). */
async function runEvents(server, app, number) {
  const response = await fetch(`${server.url}/api/v1/apps/${app}/runs/${number}/events`, {
    headers: { authorization: `Bearer ${server.token}`, accept: "text/event-stream" },
    signal: AbortSignal.timeout(30_000),
  });
  if (!response.ok) throw new Error(`events of ${app} run ${number}: HTTP ${response.status}`);
  const events = [];
  const decoder = new TextDecoder();
  let buffer = "";
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let newline = buffer.indexOf("\n");
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line.startsWith("data: ")) {
          const event = JSON.parse(line.slice(6));
          events.push(event);
          if (event.type === "run" && FINAL_RUN.includes(event.status)) return events;
        }
        newline = buffer.indexOf("\n");
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  return events;
}

const FINAL_RUN = ["succeeded", "failed", "cancelled", "superseded", "interrupted"];

/** Replaces web's page title (the one-line change every bench makes) in a shop copy. */
export function setTitle(dir, title) {
  const file = join(dir, "web", "page.js");
  const before = readFileSync(file, "utf8");
  const after = before.replace(/<title>[^<]*<\/title>/, `<title>${title}</title>`);
  if (after === before) throw new Error(`${file}: no <title> to change; examples/shop changed`);
  writeFileSync(file, after);
}

/** The page's title in an answer's body, or undefined. */
export function titleOf(body) {
  return new RegExp(TITLE_PATTERN).exec(body)?.[1];
}

/** The page title's pattern, as a source (for a load in a worker thread). */
export const TITLE_PATTERN = "<title>([^<]*)</title>";

/** One command on HAProxy's runtime API (the `stats socket` in $SKIFF_HOME/run). */
export function haproxy(server, command) {
  return new Promise((resolve, reject) => {
    const socket = createConnection(join(server.home, "run", "haproxy.sock"));
    let text = "";
    socket.setTimeout(5000, () => socket.destroy(new Error(`haproxy: no answer to ${command}`)));
    socket.on("connect", () => socket.end(`${command}\n`));
    socket.on("data", (chunk) => {
      text += chunk;
    });
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}

/** `show info` as key/value pairs (Pid is the current worker's). */
export async function haproxyInfo(server) {
  return Object.fromEntries(
    (await haproxy(server, "show info"))
      .split("\n")
      .map((line) => line.split(": "))
      .filter((parts) => parts.length === 2),
  );
}

/** `show stat` rows as objects keyed by the CSV header. */
export async function haproxyStat(server) {
  const [header, ...rows] = (await haproxy(server, "show stat")).trim().split("\n");
  const keys = header.replace(/^# /, "").split(",");
  return rows.map((row) => Object.fromEntries(row.split(",").map((v, i) => [keys[i], v])));
}

/** utime + stime of a process in clock ticks, from /proc/PID/stat (fields 14 and 15). */
export function processTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * The pid of the docker-proxy that serves a port published on 127.0.0.1, or
 * undefined (dockerd with `userland-proxy: false` runs none: iptables does it).
 */
export function dockerProxyPid(hostPort) {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let args;
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    if (!args[0]?.endsWith("docker-proxy")) continue;
    const port = args[args.indexOf("-host-port") + 1];
    if (port === String(hostPort) && args.includes("tcp")) return Number(entry);
  }
  return undefined;
}

/** The whole machine's CPU ticks, busy and total, from /proc/stat. */
export function machineTicks() {
  const ticks = readFileSync("/proc/stat", "utf8")
    .split("\n")[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  return { busy: total - ticks[3] - ticks[4], total };
}

/** How busy the CPUs are over `ms`, 0–1, from /proc/stat: what other work takes from a run. */
export async function cpuBusy(ms = 3000) {
  const before = machineTicks();
  await sleep(ms);
  const after = machineTicks();
  return (after.busy - before.busy) / (after.total - before.total);
}

/** "12 %" */
export function percent(fraction) {
  return fraction === undefined || Number.isNaN(fraction) ? "?" : `${Math.round(fraction * 100)} %`;
}

/** "1.23 s" (or "12.3 s" from 10 s on) */
export function seconds(ms) {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The first sentence of a report: date, exact command, machine and versions. */
export async function machineLine(server, command) {
  const docker = await run("docker", ["version", "--format", "{{.Server.Version}}"]);
  const info = await haproxyInfo(server).catch(() => ({}));
  const status = await api(server, "GET", "/status").catch(() => ({}));
  const cpu = cpus()[0]?.model.trim() ?? "unknown CPU";
  const commit = await run("git", ["-C", ROOT, "describe", "--always", "--dirty"]);
  return (
    `Measured ${new Date().toISOString().slice(0, 10)} with \`${command}\`: ${cpu} (${cpus().length} cores), ` +
    `Docker Engine ${docker.output.trim()}, HAProxy ${info.Version ?? "?"} (${info.Nbthread ?? "?"} threads), Skiff ${status.version ?? "?"} (checkout ${commit.output.trim() || "?"}).`
  );
}

/**
 * A bench's last step: `measure()`, then `report(measured, machineLine)`'s
 * markdown on stdout, and with --write in docs/BENCHMARKS.md between the
 * bench's markers. A failure is printed and sets exit code 1 (130 after
 * Ctrl-C). A bench that runs without the Skiff server passes `machine`
 * (command → the first sentence) instead of `server`.
 */
export async function runBench(name, { server, machine, options, interrupt }, measure, report) {
  const args = process.argv.slice(2);
  const command = `node bench/${name}.mjs${args.length ? ` ${args.join(" ")}` : ""}`;
  try {
    const measured = await measure();
    const line = machine ? await machine(command) : await machineLine(server, command);
    const markdown = report(measured, line);
    process.stdout.write(markdown);
    if (options.write) writeSection(`bench/${name}`, markdown);
  } catch (error) {
    process.stderr.write(`bench/${name}: ${error.stack ?? error.message}\n`);
    process.exitCode = interrupt.interrupted ? 130 : 1;
  }
}

/** Puts `markdown` between `<!-- NAME results: start (written by --write) -->` and its end marker in docs/BENCHMARKS.md. */
export function writeSection(name, markdown) {
  const start = `<!-- ${name} results: start (written by --write) -->`;
  const end = `<!-- ${name} results: end -->`;
  const doc = readFileSync(DOC, "utf8");
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i < 0 || j < i) throw new Error(`docs/BENCHMARKS.md has no ${name} markers`);
  writeFileSync(DOC, `${doc.slice(0, i + start.length)}\n${markdown.trim()}\n${doc.slice(j)}`);
  progress(`wrote the results into ${DOC}`);
}

/** Destroys a bench app (its containers, routes and registry tags); never throws. */
export async function destroyApp(app) {
  const result = await skiff(["apps:destroy", app, "--confirm", app], { allowFailure: true });
  if (result.code !== 0 && !/not found|no app/i.test(result.output)) {
    progress(`could not destroy ${app}: ${tail(result.output, 5)}`);
  }
}

/**
 * A Skiff installation of the bench's own: a temporary SKIFF_HOME, free
 * 127.0.0.1 ports for the API, edge, stats page and registry, and `skiff
 * server` in the foreground as a child in a process group of its own (so a
 * Ctrl-C reaches the bench, which cleans up, not the server), started with
 * `nodeArgs` (e.g. --cpu-prof). It logs to $SKIFF_HOME/logs/server.log
 * (`--log-file`, as `skiff server start` runs it), not to a pipe: the
 * server writes its log synchronously, and a pipe the bench is slow to read
 * would stall it. `logLines()` reads the log back ({at, text}: at from a
 * JSON line's time). Returns what serverConfig() returns plus `pid`,
 * `env`, `instance` (the skiff.instance label value of its objects),
 * `registryPrefix`, `skiff(args, options)` on this server,
 * `restart({ nodeArgs })` (stops the control plane by its pid and starts it
 * again, e.g. profiled; the registry, the edge and the apps keep running), and
 * `destroy()`: stops the server (SIGTERM, by its pid), then its registry and
 * edge (`skiff server stop --all`), removes every container, network and
 * volume carrying its instance label and every image tagged with its
 * registry's address, and deletes the home. Never throws from destroy().
 */
export async function sandboxServer({ prefix = "skiff-bench-", nodeArgs = [] } = {}) {
  const home = mkdtempSync(join(tmpdir(), prefix));
  const ports = [];
  for (let i = 0; i < 4; i++) ports.push(await freeLocalPort(ports));
  const [apiPort, edgePort, statsPort, registryPort] = ports;
  const env = {
    ...process.env,
    SKIFF_HOME: home,
    SKIFF_PORT: String(apiPort),
    SKIFF_EDGE_PORT: String(edgePort),
    SKIFF_EDGE_STATS_PORT: String(statsPort),
    SKIFF_REGISTRY_PORT: String(registryPort),
  };
  for (const name of ["SKIFF_URL", "SKIFF_TOKEN", "SKIFF_REGISTRY_URL"]) delete env[name];
  const url = `http://127.0.0.1:${apiPort}`;
  const logFile = join(home, "logs", "server.log");
  // What Node itself prints before the log is open (a failed start, a fatal error).
  const stderrFile = join(home, "logs", "server.stderr");
  mkdirSync(join(home, "logs"), { recursive: true, mode: 0o700 });
  const logLines = () =>
    [stderrFile, `${logFile}.1`, logFile]
      .flatMap((file) => {
        try {
          return readFileSync(file, "utf8").split("\n");
        } catch {
          return [];
        }
      })
      .filter(Boolean)
      .map((text) => {
        const time = /^\{.*"time":(\d+)/.exec(text)?.[1];
        return { at: time ? Number(time) : undefined, text };
      });
  let child;
  let exited;

  const start = async (args) => {
    const { openSync, closeSync } = await import("node:fs");
    const stderr = openSync(stderrFile, "a", 0o600);
    child = spawn(process.execPath, [...args, SKIFF, "server", "--log-file", logFile], {
      env,
      cwd: home,
      detached: true,
      stdio: ["ignore", "ignore", stderr],
    });
    closeSync(stderr);
    exited = new Promise((resolve) => child.once("exit", resolve));
    sandbox.pid = child.pid;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) {
        throw new Error(
          `skiff server exited (${child.exitCode}):\n${logLines()
            .slice(-30)
            .map((l) => l.text)
            .join("\n")}`,
        );
      }
      const answer = await fetch(`${url}/api/v1/healthz`, {
        signal: AbortSignal.timeout(1000),
      }).catch(() => undefined);
      if (answer?.ok) break;
      if (Date.now() > deadline) throw new Error("skiff server did not answer within 60 s");
      await sleep(200);
    }
  };

  const stop = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    await exited;
    clearTimeout(timer);
  };

  const sandbox = {
    home,
    url,
    edgePort,
    statsPort,
    registryPort,
    registryPrefix: `127.0.0.1:${registryPort}/`,
    // LABELS.instance of this installation, as src/docker/engine.ts derives it.
    instance: createHash("sha256").update(resolve(home)).digest("hex").slice(0, 12),
    env,
    pid: undefined,
    logLines,
    token: undefined,
    skiff: (args, options = {}) => skiff(args, { env, ...options }),
    async restart({ nodeArgs: args = [] } = {}) {
      await stop();
      await start(args);
    },
    async destroy() {
      try {
        await stop();
      } catch (error) {
        progress(`could not stop skiff server (pid ${child?.pid}): ${error.message}`);
      }
      const stopped = await run(process.execPath, [SKIFF, "server", "stop", "--all"], { env });
      if (stopped.code !== 0) progress(`skiff server stop --all: ${tail(stopped.output, 5)}`);
      try {
        await removeInstanceObjects(home, sandbox.registryPrefix);
      } catch (error) {
        progress(`cleanup of ${home}'s Docker objects failed: ${error.message}`);
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
  try {
    await start(nodeArgs);
    sandbox.token = readFileSync(join(home, "admin-token"), "utf8").trim();
  } catch (error) {
    await sandbox.destroy();
    throw error;
  }
  return sandbox;
}

/** A 127.0.0.1 port nothing listens on now, not one of `taken`. */
async function freeLocalPort(taken = []) {
  const { createServer } = await import("node:net");
  for (;;) {
    const port = await new Promise((resolve, reject) => {
      const probe = createServer();
      probe.once("error", reject);
      probe.listen(0, "127.0.0.1", () => {
        const { port: chosen } = probe.address();
        probe.close(() => resolve(chosen));
      });
    });
    if (!taken.includes(port)) return port;
  }
}

/**
 * Removes what the installation at `home` made on the Docker host, as
 * test/support/skiff-harness.ts does: containers, networks and volumes by
 * its instance label (LABELS.instance = instanceId(home), from dist/), then
 * the images tagged with its registry's address. Other installations on the
 * same host keep theirs.
 */
async function removeInstanceObjects(home, imagePrefix) {
  const { instanceId, LABELS, removeImagesTagged } = await import(
    new URL("../../dist/docker/engine.js", import.meta.url).href
  );
  const docker = dockerClient();
  const label = [`${LABELS.instance}=${instanceId(home)}`];
  const gone = (error) => error.statusCode === 404;
  for (const c of await docker.listContainers({ all: true, filters: { label } })) {
    await docker
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .catch((error) => {
        if (!gone(error)) progress(`could not remove container ${c.Names?.[0]}: ${error.message}`);
      });
  }
  for (const n of await docker.listNetworks({ filters: { label } })) {
    // Right after many containers went, Docker may still count their
    // endpoints ("has active endpoints", 403) for a moment: try again.
    for (let attempt = 1; ; attempt++) {
      const failed = await docker
        .getNetwork(n.Id)
        .remove()
        .then(
          () => undefined,
          (error) => (gone(error) ? undefined : error),
        );
      if (!failed) break;
      if (failed.statusCode !== 403 || attempt >= 15) {
        progress(
          `could not remove network ${n.Name}: ${failed.message}; remove it with \`docker network rm ${n.Name}\``,
        );
        break;
      }
      await sleep(1000);
    }
  }
  const { Volumes } = await docker.listVolumes({ filters: { label } });
  for (const v of Volumes ?? []) {
    await docker
      .getVolume(v.Name)
      .remove()
      .catch((error) => {
        if (!gone(error)) progress(`could not remove volume ${v.Name}: ${error.message}`);
      });
  }
  await removeImagesTagged(docker, imagePrefix);
}

/** VmRSS of a process in bytes, from /proc/PID/status. */
export function processRss(pid) {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`/proc/${pid}/status has no VmRSS`);
  return Number(match[1]) * 1024;
}

/** The tiny image the tests use (test/support/busybox-image.ts): Debian's static busybox, imported. */
export const BUSYBOX_IMAGE = "skiff-test/busybox:1";

/**
 * Imports Debian's busybox-static as BUSYBOX_IMAGE unless the Docker host
 * has it, as test/support/busybox-image.ts does (no registry, seconds).
 * Returns whether it imported it, so the bench can remove what it added.
 */
export async function ensureBusyboxImage(docker = dockerClient()) {
  const existing = await docker.listImages({ filters: { reference: [BUSYBOX_IMAGE] } });
  if (existing.length > 0) return { image: BUSYBOX_IMAGE, imported: false };
  const root = mkdtempSync(join(tmpdir(), "skiff-bench-busybox-"));
  try {
    mkdirSync(join(root, "rootfs", "bin"), { recursive: true });
    cpSync("/bin/busybox", join(root, "rootfs", "bin", "busybox"));
    for (const applet of ["sh", "sleep", "echo", "cat", "wget", "httpd"]) {
      execFileSync("ln", ["-s", "busybox", join(root, "rootfs", "bin", applet)]);
    }
    const tarball = join(root, "rootfs.tar");
    execFileSync("tar", ["-C", join(root, "rootfs"), "-cf", tarball, "."]);
    const [repo, tag] = BUSYBOX_IMAGE.split(":");
    const { createReadStream } = await import("node:fs");
    const stream = await docker.importImage(createReadStream(tarball), { repo, tag });
    await new Promise((resolve, reject) =>
      docker.modem.followProgress(stream, (error) => (error ? reject(error) : resolve())),
    );
    return { image: BUSYBOX_IMAGE, imported: true };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * A sandbox bench's last step: `measure()` (or, with --from-json FILE, the
 * figures of an earlier --json run), then `report(measured)`'s markdown; with
 * --json the figures go to stdout for scripts and the report to stderr; with
 * --write the report also goes into docs/BENCHMARKS.md between the bench's
 * markers. A failure is printed and sets exit code 1 (130 after Ctrl-C).
 */
export async function runJsonBench(name, { options, interrupt }, measure, report) {
  try {
    const measured = options["from-json"]
      ? JSON.parse(readFileSync(options["from-json"], "utf8"))
      : await measure();
    const markdown = report(measured);
    if (options.json) {
      process.stdout.write(`${JSON.stringify(measured, null, 2)}\n`);
      process.stderr.write(markdown);
    } else process.stdout.write(markdown);
    if (options.write) writeSection(`bench/${name}`, markdown);
  } catch (error) {
    process.stderr.write(`bench/${name}: ${error.stack ?? error.message}\n`);
    process.exitCode = interrupt.interrupted ? 130 : 1;
  }
}
