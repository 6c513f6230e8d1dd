// What the benches that need no Docker share: a stand-in replica (a small
// Node.js HTTP server in a process of its own, on 127.0.0.1), HAProxy
// started in master-worker mode from a given config file and stopped by its
// PID, a command on its master CLI or runtime API, a free port, and the
// first sentence of a report for a bench that runs without the Skiff server.

import { execFileSync, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { cpus } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { ROOT, run } from "./platform.mjs";

export const HAPROXY = "/usr/sbin/haproxy";

/** A port nothing listens on now, on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

// The replica: GET /healthz answers "ok" (as examples/shop's web does), any
// other path the replica's name; keep-alive longer than the edge keeps its
// pooled connections, as examples/shop sets it.
const REPLICA = `
const { createServer } = require("node:http");
const [port, name] = process.argv.slice(1);
const server = createServer((request, response) => {
  if (request.url === "/healthz") return response.end("ok\\n");
  response.end(name + "\\n");
});
server.keepAliveTimeout = 65000;
server.listen(Number(port), "127.0.0.1", () => process.stdout.write("listening\\n"));
process.on("SIGTERM", () => process.exit(0));
`;

/** Starts a replica in a process of its own; resolves once it listens. */
export async function startReplica(name) {
  const port = await freePort();
  const child = spawn(process.execPath, ["-e", REPLICA, String(port), name], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`replica ${name} exited (${code})`)));
    child.stdout.once("data", resolve);
  });
  child.removeAllListeners("exit");
  return {
    name,
    port,
    pid: child.pid,
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    },
  };
}

/** One command on a HAProxy CLI socket (the runtime API or the master CLI); resolves with the answer. */
export function cliCommand(socketPath, command, timeoutMs = 3000) {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let text = "";
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new Error(`${socketPath}: no answer to ${command}`)),
    );
    // end(): the master CLI answers once the client has finished sending.
    socket.on("connect", () => socket.end(`${command}\n`));
    socket.on("data", (chunk) => {
      text += chunk;
    });
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}

/** The current workers' PIDs in the master CLI's `show proc`. */
export async function workerPids(masterSocket) {
  const text = await cliCommand(masterSocket, "show proc");
  const pids = [];
  let section = "";
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) section = line.trim();
    else if (section === "# workers" && /^\d+\s+worker\s/.test(line)) {
      pids.push(Number(line.split(/\s+/)[0]));
    }
  }
  return pids;
}

/**
 * Starts `haproxy -W -S MASTER -f CONFIG` as a child of this process, its
 * output in `logFile`; resolves once the master reports a worker. stop()
 * sends SIGTERM to the master (which stops its workers) and waits.
 */
export async function startHaproxy({ configFile, masterSocket, logFile }) {
  const log = openSync(logFile, "a");
  const child = spawn(HAPROXY, ["-W", "-S", masterSocket, "-f", configFile], {
    stdio: ["ignore", log, log],
  });
  closeSync(log);
  const deadline = Date.now() + 10_000;
  let worker;
  while (worker === undefined) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(
        `HAProxy did not start with ${configFile}:\n${readFileSync(logFile, "utf8").slice(-2000)}`,
      );
    }
    await sleep(20);
    worker = (await workerPids(masterSocket).catch(() => []))[0];
  }
  return {
    pid: child.pid,
    worker,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

/** The thread count HAProxy uses by default here: one per CPU it may run on (`nbthread`, configuration.txt). */
export function defaultThreads() {
  return cpus().length;
}

/** The first sentence of a report for a bench that needs no Skiff server: date, command, machine, versions. */
export async function localMachineLine(command) {
  const version = /version (\S+)/.exec(execFileSync(HAPROXY, ["-v"]).toString())?.[1] ?? "?";
  const commit = await run("git", ["-C", ROOT, "describe", "--always", "--dirty"]);
  const cpu = cpus()[0]?.model.trim() ?? "unknown CPU";
  return (
    `Measured ${new Date().toISOString().slice(0, 10)} with \`${command}\`: ${cpu} (${cpus().length} cores), ` +
    `HAProxy ${version}, Node.js ${process.version} (checkout ${commit.output.trim() || "?"}).`
  );
}
