// The normalised app spec: what the rest of Skiff reads after parsing.
// Short forms are expanded, durations are milliseconds, sizes are bytes,
// interpolation is done, and defaults that do not depend on the app's name
// are filled in.

import type { VolumeMount } from "./forms.js";

export type { VolumeMount } from "./forms.js";

/** A valid app spec, normalised. */
export interface AppSpec {
  /** The file it was read from, e.g. `compose.yaml`. */
  file: string;
  /** Services by name, in file order. */
  services: Record<string, ServiceSpec>;
  /** Named volumes declared under the top-level `volumes:` key. */
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

/** `deploy.resources.limits`. */
export interface ResourceLimits {
  cpus?: number;
  memoryBytes?: number;
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
