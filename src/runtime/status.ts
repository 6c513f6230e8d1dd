import type Docker from "dockerode";
import type { SkiffConfig } from "../config.js";
import { dockerStatus } from "../docker/engine.js";
import type { EdgeRuntimeApi } from "../edge/runtime-api.js";
import type { Store } from "../state/store.js";
import { SKIFF_VERSION } from "../version.js";
import type { ReconcilePass } from "./reconciler.js";
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
  /** The reconciler's last full pass over every app. */
  reconciler?: ReconcilePass;
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
  reconciler?: () => ReconcilePass | undefined;
}

function supervised(states: ProcessState[], name: string): Partial<ComponentStatus> {
  const state = states.find((s) => s.name === name);
  if (!state) return {};
  return {
    ...(state.pid !== undefined ? { pid: state.pid } : {}),
    restarts: state.restarts,
  };
}

/** How long one component may take to answer before status reports it down. */
const PROBE_TIMEOUT_MS = 5000;

/** `promise`, or `fallback` when it has not settled within `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Checks every component concurrently; a component that is down is reported with what to do. */
export async function collectStatus(sources: StatusSources): Promise<StatusReport> {
  const { config } = sources;
  const states = sources.processes();
  const registryUrl = config.externalRegistry?.url ?? `http://${config.registryAddress}`;
  const [docker, registry, edge] = await Promise.all([
    withTimeout(dockerStatus(sources.docker, config.dockerSocket), PROBE_TIMEOUT_MS, {
      up: false,
      error: `Docker Engine at ${config.dockerSocket} did not answer within ${PROBE_TIMEOUT_MS / 1000}s`,
      hint: "the daemon is hung or the socket is not Docker's; check `docker version` and the daemon's log, or SKIFF_DOCKER_SOCKET",
    }).then((s): ComponentStatus => ({ address: `unix://${config.dockerSocket}`, ...s })),
    (async (): Promise<ComponentStatus> => {
      const base: ComponentStatus = {
        up: false,
        address: registryUrl,
        mode: config.externalRegistry ? "external" : "managed",
        ...(config.externalRegistry ? {} : supervised(states, "registry")),
      };
      const managed = states.find((s) => s.name === "registry");
      if (!config.externalRegistry && managed && managed.state !== "running") {
        // Whatever answers on the port, it is not the registry Skiff runs.
        return {
          ...base,
          error: managed.lastError ?? `the managed registry is ${managed.state}`,
          hint:
            managed.lastHint ??
            "skiff server retries with backoff; `skiff events` shows each attempt",
        };
      }
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
      const managed = states.find((s) => s.name === "edge");
      if (managed && managed.state !== "running") {
        return {
          ...base,
          error: managed.lastError ?? `the edge is ${managed.state}`,
          hint:
            managed.lastHint ??
            "skiff server retries with backoff; `skiff events` shows each attempt",
        };
      }
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
  const reconciler = sources.reconciler?.();
  return {
    version: SKIFF_VERSION,
    ok: Object.values(components).every((c) => c.up),
    components,
    ...(reconciler ? { reconciler } : {}),
  };
}
