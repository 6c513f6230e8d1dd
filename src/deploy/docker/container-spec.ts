// What a deploy sends to the Docker Engine to run one replica, its app
// network and its volumes, built as plain data. The builders are pure, so a
// test compares them by equality; a thin step sends them with dockerode.

import { randomBytes } from "node:crypto";
import type Docker from "dockerode";
import { BACKGROUND_CPU_SHARES } from "../../docker/background-cpu.js";
import { appNetworkName, LABELS } from "../../docker/engine.js";
import { DEFAULT_LIMITS, type PlanHealth, type PlanService } from "../../spec/index.js";

/** The label holding a replica's container port, so the reconciler and the edge find it without the plan. */
export const PORT_LABEL = "skiff.port";

/** Which replica a container is: app, service, release number and replica index (1-based). */
export interface ReplicaIdentity {
  app: string;
  service: string;
  release: number;
  replica: number;
}

/**
 * The container's name. `generation` is a short random suffix, so a
 * replacement for a replica never collides with a dead container of the
 * same replica that Docker still holds (or one being removed).
 */
export function replicaContainerName(id: ReplicaIdentity, generation: string): string {
  return `skiff-${id.app}-${id.service}-r${id.release}-${id.replica}-${generation}`;
}

/** A fresh generation suffix for replicaContainerName: 6 hex digits. */
export function newGeneration(): string {
  return randomBytes(3).toString("hex");
}

/**
 * The Docker volume behind the app's named volume `name`, as Compose names
 * it (`project_name`), the project being the app's network name.
 */
export function appVolumeName(app: string, name: string, instance?: string): string {
  return `${appNetworkName(app, instance)}_${name}`;
}

/**
 * Docker keeps container logs here until the container is removed; without a
 * cap a chatty replica fills the disk. 3 × 10 MB per container is enough for
 * `skiff logs` and for the log tail of a failed deploy.
 */
export const CONTAINER_LOG_CONFIG = {
  Type: "json-file",
  Config: { "max-size": "10m", "max-file": "3" },
} as const;

const NS_PER_MS = 1_000_000;

/**
 * Docker's restart policy for the plan's. Absent, and for `always`:
 * unless-stopped. Docker restarts a crashed replica and brings replicas back
 * after a daemon or host restart, so the data plane keeps serving while
 * Skiff is down; a replica Skiff stopped on purpose (an old release after a
 * switch) stays stopped, which `always` would undo at the daemon's next
 * start. A crash loop shows as a growing RestartCount, which the health wait
 * watches.
 */
function restartPolicy(restart: PlanService["container"]["restart"]) {
  if (restart === undefined || restart.policy === "always" || restart.policy === "unless-stopped") {
    return { Name: "unless-stopped" };
  }
  if (restart.policy === "on-failure" && restart.maxRetries !== undefined) {
    return { Name: "on-failure", MaximumRetryCount: restart.maxRetries };
  }
  return { Name: restart.policy };
}

/**
 * The anonymous volumes' mounts: an empty Source, so Docker makes a fresh
 * volume for the container (as `--mount type=volume,target=…`). `noCopy`:
 * the volume starts empty instead of with the image's files there.
 */
function ephemeralMounts(targets: readonly string[], app: string, noCopy = false) {
  return targets.map((target) => ({
    Type: "volume" as const,
    Source: "",
    Target: target,
    ReadOnly: false,
    VolumeOptions: {
      NoCopy: noCopy,
      Labels: { [LABELS.app]: app },
      DriverConfig: { Name: "local", Options: {} },
    },
  }));
}

/** Targets of the release's directory binds (`./conf.d:/etc/nginx/conf.d:ro`). */
function boundDirectories(c: PlanService["container"]): string[] {
  return (c.files ?? [])
    .filter((f) => f.origin === "bind" && f.source.type === "tree" && f.source.kind === "directory")
    .map((f) => f.target);
}

/** The create request for one replica of `service`, running `image` on the app network. */
export function toContainerCreateOptions(input: {
  identity: ReplicaIdentity;
  service: PlanService;
  image: string;
  name: string;
  /** serviceFingerprint of the release for this service, so a later deploy knows it runs the same. */
  fingerprint?: string;
  /** More labels, e.g. a test's marker; Skiff's own labels win over them. */
  labels?: Record<string, string>;
}): Docker.ContainerCreateOptions {
  const { identity, service, image, name } = input;
  const c = service.container;
  const instance = input.labels?.[LABELS.instance];
  const network = appNetworkName(identity.app, instance);
  const port = c.port === undefined ? undefined : `${c.port}/tcp`;
  return {
    name,
    Image: image,
    ...(c.entrypoint && { Entrypoint: [...c.entrypoint] }),
    ...(c.command && { Cmd: [...c.command] }),
    Env: Object.entries(c.environment).map(([key, value]) => `${key}=${value}`),
    ...(c.user !== undefined && { User: c.user }),
    ...(c.workingDir !== undefined && { WorkingDir: c.workingDir }),
    Labels: {
      ...c.labels,
      ...input.labels,
      [LABELS.app]: identity.app,
      [LABELS.service]: identity.service,
      [LABELS.release]: String(identity.release),
      [LABELS.replica]: String(identity.replica),
      ...(c.port !== undefined && { [PORT_LABEL]: String(c.port) }),
      ...(input.fingerprint !== undefined && { [LABELS.fingerprint]: input.fingerprint }),
    },
    // Docker's StopTimeout is whole seconds; round up so the grace period is never cut short.
    StopTimeout: Math.ceil(c.stopGracePeriodMs / 1000),
    ...(c.stopSignal !== undefined && { StopSignal: c.stopSignal }),
    ...(c.hostname !== undefined && { Hostname: c.hostname }),
    ...(port && { ExposedPorts: { [port]: {} } }),
    ...(service.health.type === "docker" && { Healthcheck: toHealthConfig(service.health) }),
    HostConfig: {
      RestartPolicy: restartPolicy(c.restart),
      NetworkMode: network,
      // Every service with a port publishes it, web or not: Skiff's HTTP health check and the edge
      // reach containers through 127.0.0.1 only. An empty HostPort lets Docker pick a free port, so
      // replicas of two releases never fight over one.
      ...(port && { PortBindings: { [port]: [{ HostIp: "127.0.0.1", HostPort: "" }] } }),
      // Defaults when the spec sets none (DESIGN.md, Trust); see DEFAULT_LIMITS.
      Memory: c.limits.memoryBytes ?? DEFAULT_LIMITS.memoryBytes,
      PidsLimit: c.limits.pids ?? DEFAULT_LIMITS.pids,
      ...(c.limits.cpus !== undefined && { NanoCpus: Math.round(c.limits.cpus * 1e9) }),
      ...(c.init !== undefined && { Init: c.init }),
      ...(c.readOnly !== undefined && { ReadonlyRootfs: c.readOnly }),
      ...(c.capDrop && c.capDrop.length > 0 && { CapDrop: [...c.capDrop] }),
      ...(c.noNewPrivileges && { SecurityOpt: ["no-new-privileges"] }),
      ...(c.shmSizeBytes !== undefined && { ShmSize: c.shmSizeBytes }),
      ...(c.ulimits &&
        c.ulimits.length > 0 && {
          Ulimits: c.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })),
        }),
      ...(c.tmpfs && Object.keys(c.tmpfs).length > 0 && { Tmpfs: { ...c.tmpfs } }),
      ...((c.volumes.length > 0 ||
        (c.ephemeralVolumes?.length ?? 0) > 0 ||
        boundDirectories(c).length > 0) && {
        Mounts: [
          ...c.volumes.map((v) => ({
            Type: "volume" as const,
            Source: appVolumeName(identity.app, v.source, instance),
            Target: v.target,
            ReadOnly: v.readOnly,
            // Used only when the volume does not exist yet, so that even then it carries the app
            // label, and starts empty when the spec says nocopy; the driver is Docker's default.
            VolumeOptions: {
              NoCopy: v.noCopy ?? false,
              Labels: { [LABELS.app]: identity.app },
              DriverConfig: { Name: "local", Options: {} },
            },
          })),
          ...ephemeralMounts(c.ephemeralVolumes ?? [], identity.app),
          // A bound directory hides what the image has there, as a bind mount
          // does: an empty volume of the replica's own at the target, which the
          // release's files are then put into (Docker writes a created
          // container's volumes through its archive API too).
          ...ephemeralMounts(boundDirectories(c), identity.app, true),
        ],
      }),
      LogConfig: { Type: CONTAINER_LOG_CONFIG.Type, Config: { ...CONTAINER_LOG_CONFIG.Config } },
    },
    // The service name as an alias on the app network: other services reach it by name, as in
    // Compose; the spec's network aliases are more names for the same service.
    NetworkingConfig: {
      EndpointsConfig: { [network]: { Aliases: [identity.service, ...(c.aliases ?? [])] } },
    },
  };
}

/** Docker's HealthConfig in nanoseconds; without a test, Docker keeps the image's HEALTHCHECK test. */
export function toHealthConfig(health: Extract<PlanHealth, { type: "docker" }>) {
  return {
    ...(health.test && { Test: [...health.test] }),
    Interval: health.intervalMs * NS_PER_MS,
    Timeout: health.timeoutMs * NS_PER_MS,
    Retries: health.retries,
    StartPeriod: health.startPeriodMs * NS_PER_MS,
  };
}

/** The app's own bridge network, on which its services reach each other by name. */
export function toNetworkCreateOptions(
  app: string,
  labels: Record<string, string> = {},
): Docker.NetworkCreateOptions {
  return {
    Name: appNetworkName(app, labels[LABELS.instance]),
    Driver: "bridge",
    // Without it, two concurrent deploys of a new app could each create a network of this name.
    CheckDuplicate: true,
    Labels: { ...labels, [LABELS.app]: app },
  };
}

/** The Docker volume behind the app's named volume `name`. */
export function toVolumeCreateOptions(
  app: string,
  name: string,
  labels: Record<string, string> = {},
): Docker.VolumeCreateOptions {
  return {
    Name: appVolumeName(app, name, labels[LABELS.instance]),
    Driver: "local",
    Labels: { ...labels, [LABELS.app]: app },
  };
}

/**
 * A container of a run's test stage, built by the same builder as a
 * replica, so a test runs the service as it will run: its image,
 * environment, user, limits, tmpfs, release-file mounts. What differs:
 * - it joins the test's own throwaway network, reachable there by the
 *   service's name and aliases;
 * - no named volume of the app (a test never touches live data: the service
 *   starts with its image's own volumes, removed with it), no published
 *   port, no restart policy, no container name;
 * - only the given labels (the run's), never a replica's, so the reconciler
 *   never takes it for one;
 * - a lower CPU weight than any replica (BACKGROUND_CPU_SHARES);
 * - with `command`, the test entry's command runs through `sh -c` in place
 *   of the service's own, without its healthcheck.
 */
export function toTestContainerCreateOptions(input: {
  app: string;
  service: PlanService;
  image: string;
  /** The test network's id or name. */
  network: string;
  labels: Record<string, string>;
  command?: string;
}): Docker.ContainerCreateOptions {
  const { service, network } = input;
  const { volumes: _named, port: _port, ...container } = service.container;
  const replica = toContainerCreateOptions({
    identity: { app: input.app, service: service.name, release: 0, replica: 0 },
    service: {
      ...service,
      container: { ...container, volumes: [] },
      ...(input.command !== undefined ? { health: { type: "running", stableMs: 0 } } : {}),
    },
    image: input.image,
    name: "",
  });
  const { name: _name, Labels: _labels, HostConfig, ...options } = replica;
  return {
    ...options,
    ...(input.command !== undefined ? { Entrypoint: ["/bin/sh", "-c"], Cmd: [input.command] } : {}),
    Labels: { ...service.container.labels, ...input.labels },
    HostConfig: {
      ...HostConfig,
      NetworkMode: network,
      RestartPolicy: { Name: "no" },
      // Tests must not starve the live replicas of the app they test (background-cpu.ts).
      CpuShares: BACKGROUND_CPU_SHARES,
    },
    NetworkingConfig: {
      EndpointsConfig: {
        [network]: { Aliases: [service.name, ...(service.container.aliases ?? [])] },
      },
    },
  };
}
