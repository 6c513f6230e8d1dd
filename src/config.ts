import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { ValidationError } from "./errors.js";
import { Secret } from "./secret.js";

/** Where an external registry is and how to log in to it; absent means Skiff runs its own. */
export interface ExternalRegistryConfig {
  url: string;
  username?: string;
  password?: Secret;
}

/** Everything a Skiff process needs to know about its host, resolved once from the environment. */
export interface SkiffConfig {
  home: string;
  /** Control plane: API, git, webhooks, dashboard. */
  host: string;
  port: number;
  edgePort: number;
  edgeStatsPort: number;
  /** host:port of the managed registry (ignored when `externalRegistry` is set). */
  registryAddress: string;
  externalRegistry?: ExternalRegistryConfig;
  dockerSocket: string;
  /** Pipeline runs of different apps that may run at once. */
  pipelineConcurrency: number;
  paths: SkiffPaths;
}

/** The registry's host as image references name it, e.g. 127.0.0.1:5000: the external registry's when one is set. */
export function imageRegistryHost(
  config: Pick<SkiffConfig, "registryAddress" | "externalRegistry">,
): string {
  return config.externalRegistry
    ? config.externalRegistry.url.replace(/^https?:\/\//, "")
    : config.registryAddress;
}

export interface SkiffPaths {
  database: string;
  adminToken: string;
  /** The key that seals secrets at rest (secrets/secret-key.ts), 0600. */
  secretKey: string;
  run: string;
  logs: string;
  serverPid: string;
  serverLog: string;
  registryDir: string;
  edgeDir: string;
  edgeSocket: string;
  /** Bare git repositories, one per app (APP.git). */
  repos: string;
  /** Each run's event journal and stage logs. */
  runs: string;
  /** Scratch space for runs in flight (source trees, build contexts). */
  work: string;
  /** Each release's files (binds, secrets, configs), by app and release. */
  releases: string;
  /** The uploaded tree of each recent release deployed with `skiff deploy` (a config change starts from it). */
  uploads: string;
}

/** The file layout under `$SKIFF_HOME`; one function so every module agrees on it. */
export function skiffPaths(home: string): SkiffPaths {
  const run = join(home, "run");
  const logs = join(home, "logs");
  return {
    database: join(home, "skiff.db"),
    adminToken: join(home, "admin-token"),
    secretKey: join(home, "secret-key"),
    run,
    logs,
    serverPid: join(run, "server.pid"),
    serverLog: join(logs, "server.log"),
    registryDir: join(home, "registry"),
    edgeDir: join(home, "edge"),
    edgeSocket: join(run, "haproxy.sock"),
    repos: join(home, "repos"),
    runs: join(home, "runs"),
    work: join(home, "work"),
    releases: join(home, "releases"),
    uploads: join(home, "uploads"),
  };
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new ValidationError(
      `${name}=${JSON.stringify(raw)} is not a port`,
      `set ${name} to a whole number from 1 to 65535, or unset it for the default ${fallback}`,
    );
  }
  return value;
}

function wholeNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 64) {
    throw new ValidationError(
      `${name}=${JSON.stringify(raw)} is not valid`,
      `set ${name} to a whole number from 1 to 64, or unset it for the default ${fallback}`,
    );
  }
  return value;
}

/** Reads the fixed points of the interface (DESIGN.md) from the environment, with their defaults. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): SkiffConfig {
  const home = resolve(env.SKIFF_HOME || join(homedir(), ".skiff"));
  const registryPort = port(env, "SKIFF_REGISTRY_PORT", 5000);
  const externalUrl = env.SKIFF_REGISTRY_URL?.trim();
  let externalRegistry: ExternalRegistryConfig | undefined;
  if (externalUrl) {
    if (!/^https?:\/\/[^/]+/.test(externalUrl)) {
      throw new ValidationError(
        `SKIFF_REGISTRY_URL=${JSON.stringify(externalUrl)} is not a registry URL`,
        "use the registry's base URL, e.g. https://ghcr.io or http://10.0.0.5:5000",
      );
    }
    if (Boolean(env.SKIFF_REGISTRY_USERNAME) !== Boolean(env.SKIFF_REGISTRY_PASSWORD)) {
      throw new ValidationError(
        `only one of SKIFF_REGISTRY_USERNAME and SKIFF_REGISTRY_PASSWORD is set`,
        "set both to log in to the registry, or neither for a registry without authentication",
      );
    }
    externalRegistry = {
      url: externalUrl.replace(/\/+$/, ""),
      ...(env.SKIFF_REGISTRY_USERNAME ? { username: env.SKIFF_REGISTRY_USERNAME } : {}),
      ...(env.SKIFF_REGISTRY_PASSWORD ? { password: new Secret(env.SKIFF_REGISTRY_PASSWORD) } : {}),
    };
  }
  return {
    home,
    host: env.SKIFF_HOST || "127.0.0.1",
    port: port(env, "SKIFF_PORT", 7070),
    edgePort: port(env, "SKIFF_EDGE_PORT", 8080),
    edgeStatsPort: port(env, "SKIFF_EDGE_STATS_PORT", 8404),
    registryAddress: `127.0.0.1:${registryPort}`,
    ...(externalRegistry ? { externalRegistry } : {}),
    dockerSocket: env.SKIFF_DOCKER_SOCKET || "/var/run/docker.sock",
    pipelineConcurrency: wholeNumber(env, "SKIFF_PIPELINE_CONCURRENCY", 2),
    paths: skiffPaths(home),
  };
}
