// What the deploy benchmarks share: the local Skiff server (found the way
// the CLI finds it), git with no user config, the CLI, machine facts, and
// the markers a report is written between in docs/BENCHMARKS.md.

import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, homedir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const SKIFF = join(ROOT, "bin", "skiff");
const DOC = join(ROOT, "docs", "BENCHMARKS.md");

export function progress(message) {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`);
}

/** The server's URL, its token and the edge port. */
export function serverConfig() {
  const home = process.env.SKIFF_HOME || join(homedir(), ".skiff");
  const url = (
    process.env.SKIFF_URL || `http://127.0.0.1:${process.env.SKIFF_PORT || 7070}`
  ).replace(/\/+$/, "");
  const token = process.env.SKIFF_TOKEN || readFileSync(join(home, "admin-token"), "utf8").trim();
  return { home, url, token, edgePort: Number(process.env.SKIFF_EDGE_PORT || 8080) };
}

/** Runs a command; resolves with its exit code, output and wall time. Never rejects on a non-zero exit. */
export function run(command, args, { cwd, env, timeoutMs = 600_000, secret } = {}) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : 1),
        output: secret ? output.split(secret).join("***") : output,
        ms: performance.now() - started,
      });
    });
  });
}

/** `bin/skiff ARGS`; throws with its output when it fails. */
export async function skiff(args, options = {}) {
  const result = await run(process.execPath, [SKIFF, ...args], options);
  if (result.code !== 0 && !options.allowFailure) {
    throw new Error(`skiff ${args.join(" ")} failed (${result.code}):\n${result.output}`);
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

export async function git(args, options) {
  const result = await run("git", ["-c", "credential.helper=", ...args], options);
  if (result.code !== 0 && !options.allowFailure) {
    throw new Error(`git ${args[0]} failed (${result.code}):\n${result.output}`);
  }
  return result;
}

/** The git remote of `app`, with the token as the password. */
export function remoteOf({ url, token }, app) {
  return `${url.replace("://", `://bench:${encodeURIComponent(token)}@`)}/git/${app}.git`;
}

/** How busy the CPUs are, from /proc/stat over `ms`. */
export async function cpuBusy(ms = 3000) {
  const sample = () => {
    const ticks = readFileSync("/proc/stat", "utf8")
      .split("\n")[0]
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return { idle: ticks[3] + ticks[4], total: ticks.reduce((a, b) => a + b, 0) };
  };
  const before = sample();
  await sleep(ms);
  const after = sample();
  return 1 - (after.idle - before.idle) / (after.total - before.total);
}

/** One line about the machine for a report. */
export async function machineLine(command) {
  const docker = await run("docker", ["version", "--format", "{{.Server.Version}}"]);
  const haproxy = await run("/usr/sbin/haproxy", ["-v"]);
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  return `Measured ${new Date().toISOString().slice(0, 10)} with \`${command}\`: ${cpu} (${cpus().length} cores), Docker Engine ${docker.output.trim()}, ${haproxy.output.split("\n")[0].replace(/ - .*/, "")}.`;
}

/** Puts `markdown` between `<!-- NAME results: start -->` and its end marker in docs/BENCHMARKS.md. */
export function writeSection(name, markdown) {
  const start = `<!-- ${name} results: start (written by --write) -->`;
  const end = `<!-- ${name} results: end -->`;
  const doc = readFileSync(DOC, "utf8");
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i < 0 || j < i) throw new Error(`docs/BENCHMARKS.md has no ${name} markers`);
  writeFileSync(DOC, `${doc.slice(0, i + start.length)}\n${markdown.trim()}\n${doc.slice(j)}`);
}
