// The normalised app spec: what the rest of Skiff reads after parsing.
// Short forms are expanded, durations are milliseconds, sizes are bytes,
// interpolation is done, and defaults that do not depend on the app's name
// are filled in.

import type { VolumeMount } from "./forms.js";
import type { PublishedPort } from "./ports.js";

export type { VolumeMount } from "./forms.js";
export type { PublishedPort } from "./ports.js";

/** A valid app spec, normalised. */
export interface AppSpec {
  /** The file it was read from, e.g. `compose.yaml`. */
  file: string;
  /** Services by name, in file order. */
  services: Record<string, ServiceSpec>;
  /**
   * Named volumes: those declared under the top-level `volumes:` key, then
   * those Skiff made of repository directories bound writable or missing
   * from the commit (`./data:/var/lib/mysql` becomes `data`).
   */
  volumes: string[];
  /** Top-level `x-skiff.test`: commands the test stage runs, in order. */
  tests: TestSpec[];
}

/** One service of the app. */
export interface ServiceSpec {
  /** The service's name: a DNS label, and its hostname on the app network. */
  name: string;
  /** How to build the image; absent for a service that runs `image` as is. */
  build?: BuildSpec;
  /** Image to run; with `build`, the name the built image is tagged with. */
  image?: string;
  /** Overrides the image's CMD. [] clears it; absent keeps the image's. The string form is split into words like Compose does (no shell). */
  command?: string[];
  /** Overrides the image's ENTRYPOINT, as `command`. */
  entrypoint?: string[];
  /** Environment of each container: env_file values, then `environment:` over them. */
  environment: Record<string, string>;
  /** `expose:` entries as `port/protocol`, e.g. `3000/tcp`. */
  expose: string[];
  /** Compose healthcheck, if the service has one. */
  healthcheck?: HealthcheckSpec;
  /** Services to start first, in file order. */
  dependsOn: DependencySpec[];
  /** Named volumes mounted into each container. A service with any is stateful. */
  volumes: VolumeMount[];
  /** `ports:` entries, one per container port, in file order. The edge routes one of them (see `skiff.port`); the host side is not used. Absent in specs stored before ports were read. */
  ports?: PublishedPort[];
  /** Files the release puts into each container: read-only binds of the repository, secrets and configs. */
  files?: PlanFile[];
  /** Targets of anonymous volumes: a fresh, empty volume per replica, removed with it; they do not make the service stateful. */
  ephemeralVolumes?: string[];
  /** tmpfs mounts by container path, each with Docker's option string (`size=65536,mode=1777`, or empty). */
  tmpfs?: Record<string, string>;
  /** `restart:` (or `deploy.restart_policy`); absent: Skiff's default, unless-stopped. */
  restart?: RestartSpec;
  /** `init: true`: Docker's init (docker-init, tini) runs as PID 1 and reaps zombies. */
  init?: boolean;
  /** `stop_signal`, e.g. `SIGQUIT`; absent: the image's STOPSIGNAL, else SIGTERM. */
  stopSignal?: string;
  /** `read_only: true`: the container's root file system is read-only. */
  readOnly?: boolean;
  /** `cap_drop`: capabilities removed from Docker's default set (`ALL` for every one). */
  capDrop?: string[];
  /** `security_opt: [no-new-privileges:true]`: processes cannot gain privileges (setuid). The only security option honoured. */
  noNewPrivileges?: boolean;
  /** `shm_size` in bytes; absent: Docker's 64 MiB. */
  shmSizeBytes?: number;
  /** `ulimits`, in file order. */
  ulimits?: Ulimit[];
  /** `hostname`: the container's own host name (what `hostname` prints); other services still reach it by service name. */
  hostname?: string;
  /** Extra names the service is reached by on the app network (`networks.NAME.aliases`), besides its service name. */
  aliases?: string[];
  /** `deploy.replicas`; default 1. */
  replicas: number;
  /** `deploy.resources.limits`. */
  limits: ResourceLimits;
  /** `deploy.update_config`, with Skiff's defaults filled in. */
  update: UpdateSpec;
  /** `stop_grace_period` in ms; absent means Docker's default (10 s). */
  stopGracePeriodMs?: number;
  user?: string;
  workingDir?: string;
  labels: Record<string, string>;
  /** The service's `x-skiff` keys. */
  skiff: SkiffServiceSpec;
}

/** How to build a service's image. Paths are relative to the spec file's directory, normalised, inside the repository. */
export interface BuildSpec {
  /** Build context directory, e.g. `.` or `web`. */
  context: string;
  /** Dockerfile path relative to the context; default `Dockerfile`. */
  dockerfile: string;
  /** Multi-stage target, if any. */
  target?: string;
  /** Build arguments (`args:`); entries without a value took theirs from the env, or were dropped when unset. */
  args: Record<string, string>;
}

/** Compose `healthcheck:`. `disabled` when it says `disable: true` or `test: ["NONE"]`. */
export type HealthcheckSpec =
  | { disabled: true }
  | {
      disabled: false;
      /** Docker's form: `["CMD", ...args]` or `["CMD-SHELL", script]`; absent keeps the image's HEALTHCHECK test. */
      test?: string[];
      intervalMs?: number;
      timeoutMs?: number;
      retries?: number;
      startPeriodMs?: number;
    };

/** One `depends_on` entry. */
export interface DependencySpec {
  service: string;
  condition: "service_started" | "service_healthy" | "service_completed_successfully";
}

/** `deploy.resources.limits` (or `cpus`, `mem_limit`, `pids_limit`). Absent values get Skiff's defaults in each container (see DEFAULT_LIMITS in plan.ts). */
export interface ResourceLimits {
  cpus?: number;
  memoryBytes?: number;
  /** Most processes and threads the container may run. */
  pids?: number;
}

/** Docker's restart policy: `no`, `on-failure` (at most `maxRetries` times when set), `unless-stopped`, `always`. */
export interface RestartSpec {
  policy: "no" | "on-failure" | "unless-stopped" | "always";
  maxRetries?: number;
}

/** One `ulimits` entry: `nofile: 1024` sets soft and hard to 1024. */
export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

/** A file or directory the release puts into each container: a read-only bind of the repository, a secret or a config. */
export interface PlanFile {
  origin: "bind" | "secret" | "config";
  /** The secret's or config's name; the bind's repository path for a bind. */
  name: string;
  /** Absolute path in the container. */
  target: string;
  /** File mode (e.g. 0o444); absent: as in the tree (binds). */
  mode?: number;
  /** Owner, as Compose's `uid`/`gid` strings; absent: root. */
  uid?: string;
  gid?: string;
  /**
   * Where the content comes from:
   * - tree: a path of the pushed tree, repository-relative and normalised, checked with SpecTree to be this kind;
   * - environment: the value of a variable of the run's environment (the app's config over `.env`), read at deploy time;
   * - content: a config's `content:`, interpolated.
   */
  source:
    | { type: "tree"; path: string; kind: "file" | "directory" }
    | { type: "environment"; variable: string }
    | { type: "content"; content: string };
}

/** `deploy.update_config`. */
export interface UpdateSpec {
  /** Default start-first; stop-first for a stateful service (it must never run twice at once). */
  order: "start-first" | "stop-first";
  /** Default rollback: the old release keeps serving. (Compose's own default, pause, would leave a half-done deploy.) */
  failureAction: "rollback" | "pause" | "continue";
}

/** A service's `x-skiff` keys, with defaults filled in where the key is present. */
export interface SkiffServiceSpec {
  /** Container port the edge routes to. */
  port?: number;
  /** Hostnames routed to the service, lowercased. Empty: the plan may give the default `<app>.localhost`. */
  domains: string[];
  /**
   * The HTTP check of `x-skiff.health`, defaults filled in. Present when the
   * spec sets `x-skiff.health` with any key but `stable_for` (an empty
   * mapping included); the plan fills defaults for web services without it.
   */
  health?: HttpHealthSpec;
  /** `x-skiff.health.stable_for`: how long a replica without a health check must run without restarting. Absent: the plan's default (5 s). */
  stableForMs?: number;
  autoscale?: AutoscaleSpec;
  budget?: BudgetSpec;
}

/** Skiff's HTTP health check. */
export interface HttpHealthSpec {
  path: string;
  /** How long a new replica may take to become healthy during a deploy. */
  timeoutMs: number;
  /** Time between checks. */
  intervalMs: number;
  /** Consecutive failures before a running replica is unhealthy. */
  retries: number;
  /** Host header; absent means the service's first domain. */
  host?: string;
}

/** `x-skiff.autoscale`. */
export interface AutoscaleSpec {
  min: number;
  max: number;
  /** Target average CPU, percent. */
  cpuPercent: number;
}

/** `x-skiff.budget`. */
export interface BudgetSpec {
  imageBytes?: number;
}

/** One top-level `x-skiff.test` entry. */
export interface TestSpec {
  service: string;
  /** Shell command, run with /bin/sh -c in the service's built image. */
  run: string;
  /** false: run on every push, even when it passed before with the same images. */
  cache?: boolean;
}
