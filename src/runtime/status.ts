import type Docker from "dockerode";
import type { SkiffConfig } from "../config.js";
import { dockerStatus } from "../docker/engine.js";
import type { EdgeRuntimeApi } from "../edge/runtime-api.js";
import type { Store } from "../state/store.js";
import { SKIFF_VERSION } from "../version.js";
import type { ProcessState } from "./supervisor.js";

/** One part of the platform as `skiff status` shows it. */
export interface ComponentStatus {
  up: boolean;
  version?: string;
  /** Where it is: a socket, a URL, a file. */
  address: string;
  /** "managed" when Skiff runs it, "external" when Skiff only uses it. */
  mode?: "managed" | "external";
  pid?: number;
  restarts?: number;
  error?: string;
  hint?: string;
}

export interface StatusReport {
  version: string;
  ok: boolean;
  components: {
    docker: ComponentStatus;
    registry: ComponentStatus;
    edge: ComponentStatus;
    database: ComponentStatus;
  };
}

export interface RegistryPinger {
  ping(): Promise<
    | { ok: true; apiVersion?: string }
    | { ok: false; status?: number; reason: string; hint?: string }
  >;
}

export interface StatusSources {
  config: SkiffConfig;
  docker: Docker;
  registry: RegistryPinger;
  /** The managed registry's version, when Skiff runs it (Distribution has no version endpoint). */
  registryVersion?: () => Promise<string | undefined>;
  edgeRuntime: EdgeRuntimeApi;
  store: Store;
  processes: () => ProcessState[];
}

function supervised(states: ProcessState[], name: string): Partial<ComponentStatus> {
  const state = states.find((s) => s.name === name);
  if (!state) return {};
  return {
    ...(state.pid !== undefined ? { pid: state.pid } : {}),
    restarts: state.restarts,
  };
}

/** Checks every component concurrently; a component that is down is reported with what to do. */
export async function collectStatus(sources: StatusSources): Promise<StatusReport> {
  const { config } = sources;
  const states = sources.processes();
  const registryUrl = config.externalRegistry?.url ?? `http://${config.registryAddress}`;
  const [docker, registry, edge] = await Promise.all([
    dockerStatus(sources.docker, config.dockerSocket).then(
      (s): ComponentStatus => ({ address: `unix://${config.dockerSocket}`, ...s }),
    ),
    (async (): Promise<ComponentStatus> => {
      const base: ComponentStatus = {
        up: false,
        address: registryUrl,
        mode: config.externalRegistry ? "external" : "managed",
        ...(config.externalRegistry ? {} : supervised(states, "registry")),
      };
      const ping = await sources.registry.ping();
      if (!ping.ok) {
        const state = states.find((s) => s.name === "registry");
        return {
          ...base,
          error: ping.reason,
          hint:
            ping.hint ??
            (state?.lastError
              ? `the last start failed: ${state.lastError}`
              : "skiff server restarts a managed registry by itself; see skiff events"),
        };
      }
      const version = (await sources.registryVersion?.()) ?? ping.apiVersion;
      return { ...base, up: true, ...(version ? { version } : {}) };
    })(),
    (async (): Promise<ComponentStatus> => {
      const base: ComponentStatus = {
        up: false,
        address: `unix://${config.paths.edgeSocket}`,
        mode: "managed",
        ...supervised(states, "edge"),
      };
      try {
        const info = await sources.edgeRuntime.info();
        return {
          ...base,
          up: true,
          ...(info.Version ? { version: `HAProxy ${info.Version}` } : {}),
        };
      } catch (error) {
        const state = states.find((s) => s.name === "edge");
        return {
          ...base,
          error: (error as Error).message,
          hint: state?.lastError
            ? `the last start failed: ${state.lastError}`
            : "skiff server starts the edge and restarts it when it dies; is the server running? (skiff server status)",
        };
      }
    })(),
  ]);
  let database: ComponentStatus;
  try {
    database = {
      up: true,
      address: config.paths.database,
      version: `SQLite ${sources.store.sqliteVersion()}, schema ${sources.store.schemaVersion()}`,
    };
  } catch (error) {
    database = {
      up: false,
      address: config.paths.database,
      error: (error as Error).message,
      hint: "check the file's permissions and free disk space",
    };
  }
  const components = { docker, registry, edge, database };
  return {
    version: SKIFF_VERSION,
    ok: Object.values(components).every((c) => c.up),
    components,
  };
}
