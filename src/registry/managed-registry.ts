import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SkiffConfig } from "../config.js";
import type { ManagedProcessSpec } from "../managed-process-spec.js";

export const REGISTRY_BINARY = "/usr/bin/docker-registry";

/**
 * The Docker Distribution config for the managed registry, as text. Storage
 * lives under $SKIFF_HOME; deletes are enabled so `apps:destroy` can remove an
 * app's tags. Pure, so tests compare it exactly.
 */
export function renderRegistryConfig(options: { address: string; storageDir: string }): string {
  return [
    "# Written by skiff on every start; edit Skiff's settings, not this file.",
    "version: 0.1",
    "log:",
    // Warnings only, and no access log: the supervisor's health probe every
    // few seconds would otherwise grow the log without bound.
    "  level: warn",
    "  formatter: text",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${JSON.stringify(options.storageDir)}`,
    "  delete:",
    "    enabled: true",
    "  cache:",
    "    blobdescriptor: inmemory",
    "http:",
    `  addr: ${JSON.stringify(options.address)}`,
    "  headers:",
    "    X-Content-Type-Options: [nosniff]",
    "",
  ].join("\n");
}

/** How Skiff runs its own registry: Debian's `docker-registry` with a generated config. */
export function managedRegistrySpec(config: SkiffConfig): ManagedProcessSpec & {
  configFile: string;
  writeConfig(): void;
} {
  const dir = config.paths.registryDir;
  const configFile = join(dir, "config.yml");
  const url = `http://${config.registryAddress}`;
  return {
    name: "registry",
    command: REGISTRY_BINARY,
    args: ["serve", configFile],
    pidFile: join(config.paths.run, "registry.pid"),
    logFile: join(config.paths.logs, "registry.log"),
    installHint:
      "install Debian's registry: apt-get install docker-registry (scripts/quickstart does this)",
    ports: [{ port: Number(config.registryAddress.split(":")[1]), setting: "SKIFF_REGISTRY_PORT" }],
    configFile,
    writeConfig() {
      mkdirSync(join(dir, "storage"), { recursive: true });
      writeFileSync(
        configFile,
        renderRegistryConfig({ address: config.registryAddress, storageDir: join(dir, "storage") }),
      );
    },
    async isHealthy() {
      try {
        const response = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(2000) });
        return response.status === 200;
      } catch {
        return false;
      }
    },
  };
}
