import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import Docker from "dockerode";
import { instanceId, LABELS, removeImagesTagged } from "../../src/docker/engine.js";

export const SKIFF_BIN = fileURLToPath(new URL("../../bin/skiff", import.meta.url));

/** A port nobody listens on right now (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** One isolated Skiff installation: its own home and ports, so tests never share state. */
export interface SkiffSandbox {
  home: string;
  env: NodeJS.ProcessEnv;
  apiPort: number;
  edgePort: number;
  statsPort: number;
  registryPort: number;
  apiUrl: string;
  registryUrl: string;
}

export async function createSandbox(): Promise<SkiffSandbox> {
  const home = mkdtempSync(join(tmpdir(), "skiff-test-"));
  const [apiPort, edgePort, statsPort, registryPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ] as [number, number, number, number];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SKIFF_HOME: home,
    SKIFF_PORT: String(apiPort),
    SKIFF_EDGE_PORT: String(edgePort),
    SKIFF_EDGE_STATS_PORT: String(statsPort),
    SKIFF_REGISTRY_PORT: String(registryPort),
  };
  delete env.SKIFF_URL;
  delete env.SKIFF_TOKEN;
  delete env.SKIFF_REGISTRY_URL;
  return {
    home,
    env,
    apiPort,
    edgePort,
    statsPort,
    registryPort,
    apiUrl: `http://127.0.0.1:${apiPort}`,
    registryUrl: `http://127.0.0.1:${registryPort}`,
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `bin/skiff ARGS` against the sandbox. */
export function skiff(
  sandbox: SkiffSandbox,
  args: string[],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [SKIFF_BIN, ...args],
      { env: { ...sandbox.env, ...extraEnv }, timeout: 90_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** `skiff ARGS`, throwing with its whole output unless it exits 0. */
export async function skiffOk(
  sandbox: SkiffSandbox,
  args: string[],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<CliResult> {
  const result = await skiff(sandbox, args, extraEnv);
  if (result.code !== 0) {
    throw new Error(
      `skiff ${args.join(" ")} exited ${result.code}\n${result.stdout}${result.stderr}`,
    );
  }
  return result;
}

/**
 * `skiff server start`: the server in the background, as an operator starts
 * it, logging to $SKIFF_HOME/logs/server.log (the foreground server does not).
 */
export async function startBackgroundServer(sandbox: SkiffSandbox): Promise<void> {
  const started = await skiffOk(sandbox, ["server", "start"]);
  if (!started.stdout.includes("skiff server started")) {
    throw new Error(`skiff server start said:\n${started.stdout}${started.stderr}`);
  }
}

/** Waits until `probe` returns true, or fails with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export async function answers(url: string, init?: RequestInit): Promise<Response | undefined> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
  } catch {
    return undefined;
  }
}

/** `skiff server` in the foreground as a child process, so a test can kill it. */
export async function startForegroundServer(sandbox: SkiffSandbox): Promise<ChildProcess> {
  const child = spawn(process.execPath, [SKIFF_BIN, "server"], {
    env: sandbox.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  try {
    await waitFor(
      "skiff server to answer",
      async () => {
        if (child.exitCode !== null)
          throw new Error(`skiff server exited (${child.exitCode}):\n${output}`);
        return (await answers(`${sandbox.apiUrl}/api/v1/healthz`))?.ok === true;
      },
      60_000,
    );
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  return child;
}

/** Stops everything the sandbox started (server, registry, edge) by pid and removes its home. */
export async function destroySandbox(sandbox: SkiffSandbox, server?: ChildProcess): Promise<void> {
  if (server && server.exitCode === null && server.signalCode === null) {
    server.kill("SIGTERM");
    await waitFor(
      "the server to exit",
      () => server.exitCode !== null || server.signalCode !== null,
      20_000,
    );
  }
  await skiff(sandbox, ["server", "stop", "--all"]);
  await removeInstanceObjects(sandbox.home, `127.0.0.1:${sandbox.registryPort}/`);
  rmSync(sandbox.home, { recursive: true, force: true });
}

/** The admin token the sandbox's server wrote on first start. */
export function readToken(sandbox: SkiffSandbox): string {
  return readFileSync(join(sandbox.home, "admin-token"), "utf8").trim();
}

/**
 * Removes the containers, networks and volumes a sandbox's server created,
 * found by its instance label, then the images it built or pulled, found by
 * its own registry's address in their tags: other servers on the same Docker
 * host (the quickstart, other test files) keep theirs.
 */
async function removeInstanceObjects(home: string, imagePrefix: string): Promise<void> {
  const docker = new Docker({ socketPath: "/var/run/docker.sock" });
  const label = [`${LABELS.instance}=${instanceId(home)}`];
  const answered = await docker.ping().then(
    () => true,
    () => false,
  );
  if (!answered) return;
  for (const c of await docker.listContainers({ all: true, filters: { label } })) {
    await docker
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .catch(() => {});
  }
  for (const n of await docker.listNetworks({ filters: { label } })) {
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => {});
  }
  const { Volumes } = await docker.listVolumes({ filters: { label } });
  for (const v of Volumes ?? [])
    await docker
      .getVolume(v.Name)
      .remove()
      .catch(() => {});
  await removeImagesTagged(docker, imagePrefix);
}

/** Every file under `dir`, recursively, with its raw bytes (what a search for a leaked value reads). */
export function filesUnder(dir: string): { path: string; bytes: Buffer }[] {
  if (!existsSync(dir)) return [];
  const out: { path: string; bytes: Buffer }[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else if (entry.isFile()) out.push({ path, bytes: readFileSync(path) });
  }
  return out;
}
