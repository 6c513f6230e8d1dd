import { join } from "node:path";
import type { SkiffConfig } from "../config.js";
import type { ManagedProcessSpec } from "../managed-process-spec.js";
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
  runtime: EdgeRuntimeApi;
  router: EdgeRouter;
} {
  const paths = edgeRouterOptions(config);
  const router = options.router ?? new EdgeRouter({ ...paths, log: options.log });
  const runtime = router.runtime;
  return {
    name: "edge",
    command: HAPROXY_BINARY,
    // -W: master-worker, so a reload (`kill -USR2 <master>`, or `reload` on
    // the master CLI) drops no connection. -S: the master CLI, for `show
    // proc` and `reload`.
    args: ["-W", "-S", paths.masterSocket, "-f", paths.configFile],
    pidFile: join(config.paths.run, "edge.pid"),
    logFile: join(config.paths.logs, "edge.log"),
    installHint: "install Debian's HAProxy: apt-get install haproxy (scripts/quickstart does this)",
    ports: [
      { port: config.edgePort, setting: "SKIFF_EDGE_PORT" },
      { port: config.edgeStatsPort, setting: "SKIFF_EDGE_STATS_PORT" },
    ],
    configFile: paths.configFile,
    runtime,
    router,
    writeConfig() {
      router.writeFiles();
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
