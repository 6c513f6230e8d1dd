// The deploy plan: the spec resolved against an app's name into what the
// deployer does, per service. Pure data, so a test compares it by equality
// and the deployer only has to carry it out.

import { serviceHostLabel } from "./forms.js";
import type {
  AppSpec,
  AutoscaleSpec,
  BudgetSpec,
  BuildSpec,
  DependencySpec,
  ResourceLimits,
  ServiceSpec,
  TestSpec,
  UpdateSpec,
  VolumeMount,
} from "./types.js";

export type { PlanFile, RestartSpec, Ulimit } from "./types.js";

/**
 * Limits every replica gets when its spec sets none (DESIGN.md, Trust: one
 * replica must not take the host down). 1 GiB of memory holds what a
 * service usually runs, MySQL 8 or a JVM with a 512 MiB heap included;
 * 1024 processes and threads are far above what a service needs (a JVM runs
 * a few hundred threads) and far below what exhausts a host (a fork bomb).
 * The spec's own values override them.
 */
export const DEFAULT_LIMITS = { memoryBytes: 1024 * 1024 * 1024, pids: 1024 } as const;

/** What Skiff deploys for one app. */
export interface Plan {
  app: string;
  /** Services in start order: each after the services it depends on, otherwise in file order. */
  services: PlanService[];
  tests: TestSpec[];
  /** Named volumes the app owns. */
  volumes: string[];
}

/**
 * - web: has a route; the edge sends traffic to it.
 * - worker: no route.
 * - stateful: has a named volume; replaced stop-first, never run twice at once (even with a route).
 */
export type ServiceKind = "web" | "worker" | "stateful";

/** One service of the plan. */
export interface PlanService {
  name: string;
  kind: ServiceKind;
  /** Where the image comes from. */
  source: ImageSource;
  replicas: number;
  /** Domains the edge routes to this service, each to its container port. */
  routes: Route[];
  health: PlanHealth;
  dependsOn: DependencySpec[];
  update: UpdateSpec;
  container: ContainerSettings;
  autoscale?: AutoscaleSpec;
  budget?: BudgetSpec;
}

/** Build from the repository (tagging as `tag` when the spec also names an image), or run an existing image. */
export type ImageSource =
  | ({ type: "build"; tag?: string } & BuildSpec)
  | { type: "image"; image: string };

export interface Route {
  domain: string;
  port: number;
}

/**
 * How a deploy decides a new replica is healthy.
 * - http: Skiff requests `path` on `port` until it answers 2xx/3xx, for at most `deadlineMs`.
 * - docker: the container's own healthcheck; wait for Docker to report healthy, for at most `deadlineMs`
 *   (its start period plus `retries` rounds of interval and timeout, Docker's own verdict time).
 * - running: no check to run (a worker, or checks disabled); healthy once the container has run
 *   `stableMs` without exiting or restarting (`x-skiff.health.stable_for`).
 */
export type PlanHealth =
  | {
      type: "http";
      port: number;
      path: string;
      host?: string;
      intervalMs: number;
      retries: number;
      deadlineMs: number;
    }
  | {
      type: "docker";
      /** Absent: the image's own HEALTHCHECK test, with these timings. */
      test?: string[];
      intervalMs: number;
      timeoutMs: number;
      retries: number;
      startPeriodMs: number;
      deadlineMs: number;
    }
  | { type: "running"; stableMs: number };

/**
 * The service's runtime settings that go to each container as the spec has
 * them (documented on ServiceSpec); absent fields mean Docker's or Skiff's
 * defaults.
 */
type RuntimeSettings = Pick<
  ServiceSpec,
  | "files"
  | "ephemeralVolumes"
  | "tmpfs"
  | "restart"
  | "init"
  | "stopSignal"
  | "readOnly"
  | "capDrop"
  | "noNewPrivileges"
  | "shmSizeBytes"
  | "ulimits"
  | "hostname"
  | "aliases"
>;

/** What each container of the service is created with. */
export interface ContainerSettings extends RuntimeSettings {
  command?: string[];
  entrypoint?: string[];
  environment: Record<string, string>;
  user?: string;
  workingDir?: string;
  labels: Record<string, string>;
  limits: ResourceLimits;
  /** Time between SIGTERM and SIGKILL. */
  stopGracePeriodMs: number;
  volumes: VolumeMount[];
  /** The container port the edge routes to, if any. */
  port?: number;
}

// Defaults of the Docker Engine and of x-skiff.health, written out so the plan is complete.
const DOCKER_HEALTH = { intervalMs: 30_000, timeoutMs: 30_000, retries: 3, startPeriodMs: 0 };
const HTTP_HEALTH = { path: "/", timeoutMs: 30_000, intervalMs: 2_000, retries: 3 };
const DOCKER_STOP_GRACE_MS = 10_000;
// x-skiff.health.stable_for's default: long enough for a process that fails at start-up
// (bad config, a missing variable) to exit and be restarted at least once.
const RUNNING_STABLE_MS = 5_000;

/**
 * Resolves a valid spec into the deploy plan for the app named `appName`.
 *
 * Services with a port and no domains of their own share out the app's
 * addresses: one takes the default domain `APP.localhost`, each other one
 * `SERVICE.APP.localhost`. The default goes to the service published on the
 * host's port 80 or 443 in the Compose file (the app's front door), else to
 * the first in file order.
 */
export function toPlan(spec: AppSpec, appName: string): Plan {
  const all = Object.values(spec.services);
  const taken = new Set(all.flatMap((s) => s.skiff.domains));
  const unnamed = all.filter((s) => s.skiff.port !== undefined && s.skiff.domains.length === 0);
  const front =
    unnamed.find((s) =>
      (s.ports ?? []).some((p) => p.published === "80" || p.published === "443"),
    ) ?? unnamed[0];
  const defaultDomains = new Map<string, string>();
  for (const s of unnamed) {
    const domain =
      s === front ? `${appName}.localhost` : `${serviceHostLabel(s.name)}.${appName}.localhost`;
    if (!taken.has(domain)) defaultDomains.set(s.name, domain);
  }
  return {
    app: appName,
    services: startOrder(all).map((s) => planService(s, defaultDomains.get(s.name))),
    tests: spec.tests.map((t) => ({ ...t })),
    volumes: [...spec.volumes],
  };
}

function planService(s: ServiceSpec, defaultDomain: string | undefined): PlanService {
  const port = s.skiff.port;
  const domains =
    s.skiff.domains.length > 0 ? s.skiff.domains : defaultDomain ? [defaultDomain] : [];
  const routes = port === undefined ? [] : domains.map((domain) => ({ domain, port }));
  const kind: ServiceKind =
    s.volumes.length > 0 ? "stateful" : routes.length > 0 ? "web" : "worker";
  const source: ImageSource = s.build
    ? {
        type: "build",
        ...s.build,
        args: { ...s.build.args },
        ...(s.image !== undefined && { tag: s.image }),
      }
    : { type: "image", image: s.image ?? "" };
  return {
    name: s.name,
    kind,
    source,
    replicas: s.replicas,
    routes,
    health: health(s, domains[0]),
    dependsOn: s.dependsOn.map((d) => ({ ...d })),
    update: { ...s.update },
    container: {
      ...(s.command && { command: [...s.command] }),
      ...(s.entrypoint && { entrypoint: [...s.entrypoint] }),
      environment: { ...s.environment },
      ...(s.user !== undefined && { user: s.user }),
      ...(s.workingDir !== undefined && { workingDir: s.workingDir }),
      labels: { ...s.labels },
      limits: { ...s.limits },
      stopGracePeriodMs: s.stopGracePeriodMs ?? DOCKER_STOP_GRACE_MS,
      volumes: s.volumes.map((v) => ({ ...v })),
      ...(port !== undefined && { port }),
      ...(s.files && { files: s.files.map((f) => ({ ...f, source: { ...f.source } })) }),
      ...(s.ephemeralVolumes && { ephemeralVolumes: [...s.ephemeralVolumes] }),
      ...(s.tmpfs && { tmpfs: { ...s.tmpfs } }),
      ...(s.restart && { restart: { ...s.restart } }),
      ...(s.init !== undefined && { init: s.init }),
      ...(s.stopSignal !== undefined && { stopSignal: s.stopSignal }),
      ...(s.readOnly !== undefined && { readOnly: s.readOnly }),
      ...(s.capDrop && { capDrop: [...s.capDrop] }),
      ...(s.noNewPrivileges && { noNewPrivileges: true }),
      ...(s.shmSizeBytes !== undefined && { shmSizeBytes: s.shmSizeBytes }),
      ...(s.ulimits && { ulimits: s.ulimits.map((u) => ({ ...u })) }),
      ...(s.hostname !== undefined && { hostname: s.hostname }),
      ...(s.aliases && { aliases: [...s.aliases] }),
    },
    ...(s.skiff.autoscale && { autoscale: { ...s.skiff.autoscale } }),
    ...(s.skiff.budget && { budget: { ...s.skiff.budget } }),
  };
}

/**
 * Precedence: an explicit x-skiff.health (the user asked Skiff to check over
 * HTTP), then the Compose healthcheck, then an HTTP check with defaults for
 * a service with a port, else "running" for stable_for.
 */
function health(s: ServiceSpec, firstDomain: string | undefined): PlanHealth {
  const port = s.skiff.port;
  const running: PlanHealth = {
    type: "running",
    stableMs: s.skiff.stableForMs ?? RUNNING_STABLE_MS,
  };
  const http = (h: typeof HTTP_HEALTH & { host?: string }): PlanHealth => ({
    type: "http",
    port: port as number,
    path: h.path,
    ...((h.host ?? firstDomain) !== undefined && { host: (h.host ?? firstDomain) as string }),
    intervalMs: h.intervalMs,
    retries: h.retries,
    deadlineMs: h.timeoutMs,
  });
  if (s.skiff.health && port !== undefined) return http(s.skiff.health);
  if (s.healthcheck) {
    if (s.healthcheck.disabled) return running;
    const h = { ...DOCKER_HEALTH, ...definedOnly(s.healthcheck) };
    return {
      type: "docker",
      ...(s.healthcheck.test && { test: [...s.healthcheck.test] }),
      intervalMs: h.intervalMs,
      timeoutMs: h.timeoutMs,
      retries: h.retries,
      startPeriodMs: h.startPeriodMs,
      deadlineMs: h.startPeriodMs + Math.max(h.retries, 1) * (h.intervalMs + h.timeoutMs),
    };
  }
  if (port !== undefined) return http(HTTP_HEALTH);
  return running;
}

function definedOnly(h: {
  intervalMs?: number;
  timeoutMs?: number;
  retries?: number;
  startPeriodMs?: number;
}) {
  return Object.fromEntries(
    Object.entries({
      intervalMs: h.intervalMs,
      timeoutMs: h.timeoutMs,
      retries: h.retries,
      startPeriodMs: h.startPeriodMs,
    }).filter(([, v]) => v !== undefined),
  ) as Partial<typeof DOCKER_HEALTH>;
}

/** Dependencies first, otherwise file order. The spec has no cycles (the rules refuse them). */
function startOrder(services: ServiceSpec[]): ServiceSpec[] {
  const byName = new Map(services.map((s) => [s.name, s]));
  const placed = new Set<string>();
  const out: ServiceSpec[] = [];
  const place = (s: ServiceSpec, path: Set<string>) => {
    if (placed.has(s.name) || path.has(s.name)) return;
    path.add(s.name);
    for (const dep of s.dependsOn) {
      const target = byName.get(dep.service);
      if (target) place(target, path);
    }
    placed.add(s.name);
    out.push(s);
  };
  for (const s of services) place(s, new Set());
  return out;
}
