import { spawn } from "node:child_process";
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { connect } from "node:net";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DependencyError } from "../errors.js";
import type { ManagedProcessSpec } from "../managed-process-spec.js";
import { isProcessRunning } from "../process-table.js";

export type { ManagedProcessSpec } from "../managed-process-spec.js";

/** The pid recorded in a pid file, if the file holds one. */
export function readPidFile(pidFile: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The pid of the spec's process when it is running, else undefined. */
export function runningPid(
  spec: Pick<ManagedProcessSpec, "pidFile" | "command"> & { args?: readonly string[] },
) {
  const pid = readPidFile(spec.pidFile);
  return pid !== undefined && isProcessRunning(pid, spec.command, spec.args ?? [])
    ? pid
    : undefined;
}

/** The last `lines` lines of a log file (from byte `offset` on), for error messages. */
export function tailFile(file: string, lines = 20, offset = 0): string {
  try {
    return readFileSync(file)
      .subarray(offset)
      .toString("utf8")
      .trimEnd()
      .split("\n")
      .slice(-lines)
      .join("\n");
  } catch {
    return "";
  }
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Whether something accepts connections on 127.0.0.1:port. */
export function portAnswers(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** How long a process must stay up after its health check before it counts as started. */
const SETTLE_MS = 300;

/**
 * Starts the process detached (own session, stdio to its log file), writes its
 * pid file, and waits until it is healthy. On failure the process is stopped
 * and the error carries the tail of its log.
 */
export async function startDetached(
  spec: ManagedProcessSpec,
  options: { timeoutMs?: number } = {},
): Promise<number> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  for (const { port, setting } of spec.ports ?? []) {
    if (await portAnswers(port)) {
      throw new DependencyError(
        `cannot start the ${spec.name}: port ${port} on 127.0.0.1 is already taken by another process`,
        `stop that process (ss -ltnp 'sport = :${port}' shows it; Debian's own docker-registry service is a common one: systemctl disable --now docker-registry), or set ${setting} to another port`,
      );
    }
  }
  mkdirSync(dirname(spec.pidFile), { recursive: true });
  mkdirSync(dirname(spec.logFile), { recursive: true });
  const logOffset = fileSize(spec.logFile);
  // The owner's only, like every file under $SKIFF_HOME.
  const log = openSync(spec.logFile, "a", 0o600);
  let pid: number | undefined;
  try {
    const child = spawn(spec.command, spec.args, {
      detached: true,
      stdio: ["ignore", log, log],
    });
    const spawnError = await new Promise<Error | undefined>((resolve) => {
      child.once("error", resolve);
      child.once("spawn", () => resolve(undefined));
    });
    if (spawnError) {
      throw new DependencyError(
        `could not start the ${spec.name} (${spec.command}): ${spawnError.message}`,
        spec.installHint,
      );
    }
    pid = child.pid as number;
    child.unref();
  } finally {
    closeSync(log);
  }
  writeFileSync(spec.pidFile, `${pid}\n`);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isProcessRunning(pid, spec.command)) break;
    if (await spec.isHealthy()) {
      // Still alive a moment later: it answered, not a stranger on its port.
      await sleep(SETTLE_MS);
      if (isProcessRunning(pid, spec.command)) return pid;
      break;
    }
    await sleep(100);
  }
  await stopProcess(spec);
  const exited = !isProcessRunning(pid, spec.command);
  const output = tailFile(spec.logFile, 8, logOffset);
  const portTaken = /address already in use|cannot bind/i.test(output);
  throw new DependencyError(
    `the ${spec.name} ${exited ? "exited right after start" : `did not become healthy within ${timeoutMs / 1000}s`}${portTaken ? " because a port it needs is taken" : ""}; its output:\n${output}`,
    portTaken
      ? `free the port, or move it with ${(spec.ports ?? []).map((p) => p.setting).join(" / ") || "its setting"}`
      : `fix the cause shown in ${spec.logFile}, then start skiff again`,
  );
}

/**
 * Stops the process named by the pid file: SIGTERM, then SIGKILL after
 * `graceMs`. Returns whether a process was running.
 */
export async function stopProcess(
  spec: Pick<ManagedProcessSpec, "pidFile" | "command"> & { args?: readonly string[] },
  options: { graceMs?: number } = {},
): Promise<boolean> {
  const pid = runningPid(spec);
  if (pid === undefined) {
    rmSync(spec.pidFile, { force: true });
    return false;
  }
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + (options.graceMs ?? 10_000);
  while (isProcessRunning(pid, spec.command) && Date.now() < deadline) await sleep(50);
  if (isProcessRunning(pid, spec.command)) process.kill(pid, "SIGKILL");
  while (isProcessRunning(pid, spec.command)) await sleep(20);
  rmSync(spec.pidFile, { force: true });
  return true;
}
