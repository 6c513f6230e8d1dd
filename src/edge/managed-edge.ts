import { readdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { SkiffConfig } from "../config.js";
import { DependencyError } from "../errors.js";
import type { ManagedProcessSpec } from "../managed-process-spec.js";
import { isProcessRunning } from "../process-table.js";
import { EdgeRouter, type EdgeRouterOptions, HAPROXY_BINARY } from "./edge-router.js";
import type { EdgeRuntimeApi } from "./runtime-api.js";

export { HAPROXY_BINARY };

/** Where Skiff's edge keeps its files and sockets, and its ports. */
export function edgeRouterOptions(
  config: SkiffConfig,
): Omit<EdgeRouterOptions, "runtime" | "master" | "validateConfig" | "timeouts" | "log"> {
  const dir = config.paths.edgeDir;
  return {
    configFile: join(dir, "haproxy.cfg"),
    domainMapFile: join(dir, "domains.map"),
    notFoundPageFile: join(dir, "not-found.html"),
    stateFile: join(dir, "desired-state.json"),
    runtimeSocket: config.paths.edgeSocket,
    masterSocket: join(config.paths.run, "haproxy-master.sock"),
    httpPort: config.edgePort,
    statsPort: config.edgeStatsPort,
  };
}

/**
 * How often the supervisor looks whether the edge's master still runs. In
 * HAProxy 2.6 master-worker mode a worker that dies (kill -9, a crash) takes
 * the master with it: "if a worker exits with a bad return code ... all
 * workers will be killed, and the master will leave" (configuration.txt,
 * "master-worker"), and the master does not start another worker. The
 * keyword's `no-exit-on-failure` does not change that on 2.6.12: measured
 * with `master-worker no-exit-on-failure` in the global section, the master
 * still logged "exit-on-failure: killing every processes with SIGTERM" and
 * exited with the worker's 137. A kill of the master takes its worker down
 * at once too. So the edge serves again only once the supervisor has
 * started a new HAProxy from the rendered file (about 50 ms from spawn to
 * the first answer, measured), and noticing the death is the rest: a pid
 * lookup in /proc this often costs next to nothing (bench/edge-death,
 * docs/BENCHMARKS.md).
 */
const EDGE_WATCH_MS = 50;

/**
 * How Skiff runs its edge: HAProxy in master-worker mode with a config
 * rendered from the router's desired state, so a (re)start by the supervisor
 * comes up with every app's backends, servers and domains. Pass the router
 * that deploys use; without one, a router on the same files is made (enough
 * for `skiff server stop/status`, which only need the pid file).
 */
export function managedEdgeSpec(
  config: SkiffConfig,
  options: { router?: EdgeRouter; log?: (line: string) => void } = {},
): ManagedProcessSpec & {
  configFile: string;
  writeConfig(): void;
  watchMs: number;
  beforeStart(): Promise<void>;
  runtime: EdgeRuntimeApi;
  router: EdgeRouter;
} {
  const paths = edgeRouterOptions(config);
  const router = options.router ?? new EdgeRouter({ ...paths, log: options.log });
  const runtime = router.runtime;
  // -W: master-worker, so a reload (`kill -USR2 <master>`, or `reload` on
  // the master CLI) drops no connection. -S: the master CLI, for `show
  // proc` and `reload`.
  const args = ["-W", "-S", paths.masterSocket, "-f", paths.configFile];
  return {
    name: "edge",
    command: HAPROXY_BINARY,
    args,
    pidFile: join(config.paths.run, "edge.pid"),
    logFile: join(config.paths.logs, "edge.log"),
    installHint: "install Debian's HAProxy: apt-get install haproxy (scripts/quickstart does this)",
    ports: [
      { port: config.edgePort, setting: "SKIFF_EDGE_PORT" },
      { port: config.edgeStatsPort, setting: "SKIFF_EDGE_STATS_PORT" },
    ],
    configFile: paths.configFile,
    watchMs: EDGE_WATCH_MS,
    runtime,
    router,
    writeConfig() {
      router.writeFiles();
    },
    // A worker outlives its killed master for a moment, still listening on
    // the edge's ports (measured: the supervisor's start, 50 ms after the
    // master's death, found the port taken and backed off for 1 s). Workers
    // run with their master's command line, so they are found by it.
    async beforeStart() {
      await endLeftovers(HAPROXY_BINARY, args);
    },
    async isHealthy() {
      try {
        return (await runtime.info()).Version !== undefined;
      } catch {
        return false;
      }
    },
  };
}

/** How long a dead master's workers get to exit by themselves before they are killed. */
const LEFTOVER_GRACE_MS = 1000;

/**
 * Waits until no process runs `command` with `args` (what a dead master
 * left, its workers), killing with SIGKILL those still there after
 * LEFTOVER_GRACE_MS. A worker exits by itself once it sees its master gone.
 */
async function endLeftovers(command: string, args: readonly string[]): Promise<void> {
  const leftovers = () =>
    readdirSync("/proc")
      .filter((entry) => /^\d+$/.test(entry))
      .map(Number)
      .filter((pid) => pid !== process.pid && isProcessRunning(pid, command, args));
  const deadline = Date.now() + LEFTOVER_GRACE_MS;
  let left = leftovers();
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(10);
    left = leftovers();
  }
  for (const pid of left) {
    try {
      process.kill(pid, "SIGKILL");
    } catch (error) {
      // Gone between the look and the kill: what was wanted.
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
    }
  }
  const killed = Date.now();
  for (left = leftovers(); left.length > 0; left = leftovers()) {
    if (Date.now() - killed > LEFTOVER_GRACE_MS) {
      throw new DependencyError(
        `HAProxy process ${left.join(", ")} of the previous edge did not exit after SIGKILL, so the edge cannot start on its ports`,
        `look at it with ps -o pid,stat,cmd -p ${left.join(",")}; once it is gone the supervisor starts the edge`,
      );
    }
    await sleep(10);
  }
}
