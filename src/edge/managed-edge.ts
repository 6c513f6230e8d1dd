import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SkiffConfig } from "../config.js";
import type { ManagedProcessSpec } from "../runtime/managed-process.js";
import { NOT_FOUND_PAGE, renderEdgeConfig } from "./config-render.js";
import { EdgeRuntimeApi } from "./runtime-api.js";

export const HAPROXY_BINARY = "/usr/sbin/haproxy";

/** How Skiff runs its edge: HAProxy in master-worker mode with a rendered config. */
export function managedEdgeSpec(config: SkiffConfig): ManagedProcessSpec & {
  configFile: string;
  writeConfig(): void;
  runtime: EdgeRuntimeApi;
} {
  const dir = config.paths.edgeDir;
  const configFile = join(dir, "haproxy.cfg");
  const domainMapFile = join(dir, "domains.map");
  const notFoundPageFile = join(dir, "not-found.html");
  const runtime = new EdgeRuntimeApi(config.paths.edgeSocket);
  return {
    name: "edge",
    command: HAPROXY_BINARY,
    // -W: master-worker, so `kill -USR2 <master>` reloads without dropping
    // connections. -S: the master CLI, for `show proc` and reload status.
    args: ["-W", "-S", join(config.paths.run, "haproxy-master.sock"), "-f", configFile],
    pidFile: join(config.paths.run, "edge.pid"),
    logFile: join(config.paths.logs, "edge.log"),
    installHint: "install Debian's HAProxy: apt-get install haproxy (scripts/quickstart does this)",
    ports: [
      { port: config.edgePort, setting: "SKIFF_EDGE_PORT" },
      { port: config.edgeStatsPort, setting: "SKIFF_EDGE_STATS_PORT" },
    ],
    configFile,
    runtime,
    writeConfig() {
      mkdirSync(dir, { recursive: true });
      mkdirSync(config.paths.run, { recursive: true });
      // The domain map is owned by the deploy code once routes exist; only seed it.
      if (!existsSync(domainMapFile)) writeFileSync(domainMapFile, "");
      writeFileSync(notFoundPageFile, NOT_FOUND_PAGE);
      writeFileSync(
        configFile,
        renderEdgeConfig({
          httpPort: config.edgePort,
          statsPort: config.edgeStatsPort,
          runtimeSocket: config.paths.edgeSocket,
          domainMapFile,
          notFoundPageFile,
        }),
      );
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
