import type Docker from "dockerode";
import { appNetworkName, LABELS } from "../../docker/engine.js";
import { isGone, unless } from "../../docker/errors.js";
import { DependencyError } from "../../errors.js";
import type { PlanHealth, PlanService } from "../../spec/index.js";
import { type Replica, ReplicaFailure, type ReplicaRequest } from "../engine.js";
import { containerLogTail } from "./container-logs.js";
import {
  newGeneration,
  replicaContainerName,
  toContainerCreateOptions,
  toNetworkCreateOptions,
  toVolumeCreateOptions,
} from "./container-spec.js";
import { waitUntilHealthy } from "./health.js";

/** Lines of a failing container's log a deploy reports. */
export const FAILED_LOG_LINES = 50;

/** Creates the app's network and named volumes when they do not exist yet. */
export async function ensureAppResources(
  docker: Docker,
  instance: string,
  app: string,
  volumes: readonly string[],
): Promise<void> {
  const labels = { [LABELS.instance]: instance };
  const network = appNetworkName(app, instance);
  const networks = await docker.listNetworks({ filters: { name: [network] } });
  if (!networks.some((n) => n.Name === network)) {
    // inProgress (409): another deploy of the same app created it meanwhile.
    await docker
      .createNetwork(toNetworkCreateOptions(app, labels))
      .catch(unless("inProgress"))
      .catch((error: Error) => {
        throw poolsExhausted(error) ?? error;
      });
  }
  for (const name of volumes) {
    const options = toVolumeCreateOptions(app, name, labels);
    const exists = await docker
      .getVolume(options.Name as string)
      .inspect()
      .then(
        () => true,
        (error: unknown) => {
          if (isGone(error)) return false;
          throw error;
        },
      );
    if (!exists) await docker.createVolume(options);
  }
}

/**
 * Starts one replica and waits until it is healthy by the service's check.
 * On failure the container is removed and ReplicaFailure carries the reason
 * and its last log lines. Returns the replica as it runs.
 */
export async function startReplica(
  docker: Docker,
  input: ReplicaRequest & {
    /** LABELS.instance of this installation. */
    instance: string;
    app: string;
    log: (text: string) => void;
    signal?: AbortSignal;
  },
): Promise<Replica> {
  const { app, service, release, replica } = input;
  const identity = { app, service: service.name, release, replica };
  const name = replicaContainerName(identity, newGeneration());
  input.signal?.throwIfAborted();
  const container = await docker.createContainer(
    toContainerCreateOptions({
      identity,
      service,
      image: input.image,
      name,
      fingerprint: input.fingerprint,
      labels: { [LABELS.instance]: input.instance },
    }),
  );
  const started = Date.now();
  try {
    if (input.files) await putReleaseFiles(container, input.files, service);
    // Cancelled meanwhile (another service of the level failed): it never runs.
    input.signal?.throwIfAborted();
    await container.start();
    const verdict = await waitUntilHealthy(docker, container.id, service.health, {
      ...(service.container.port !== undefined ? { containerPort: service.container.port } : {}),
      ...(input.signal ? { signal: input.signal } : {}),
      onProgress: input.log,
    });
    if (!verdict.healthy) {
      throw new ReplicaFailure(
        `replica ${replica} of r${release}: ${verdict.reason}`,
        // The verdict matters more than the log: a log that cannot be read says so in its place.
        await containerLogTail(docker, container.id, FAILED_LOG_LINES).catch((error: Error) => [
          `(Skiff could not read the container's log: ${error.message})`,
        ]),
      );
    }
    input.log(
      `replica ${replica} of r${release} healthy (${describeHealth(service.health)}) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    return {
      id: container.id,
      name,
      app,
      service: service.name,
      release,
      replica,
      state: "running",
      ...(service.container.port !== undefined ? { containerPort: service.container.port } : {}),
      ...(verdict.hostPort !== undefined
        ? { address: { host: "127.0.0.1", port: verdict.hostPort } }
        : {}),
      fingerprint: input.fingerprint,
      onAppNetwork: true,
      createdAt: Math.floor(started / 1000),
    };
  } catch (error) {
    // The failure (or the cancellation) is what the caller must hear; a
    // removal the daemon refuses is a leftover the reconciler removes later.
    await container
      .remove({ force: true, v: true })
      .catch(unless("noSuchObject", "inProgress"))
      .catch((removal: Error) =>
        input.log(
          `could not remove ${name} after it failed: ${removal.message}; the reconciler removes it`,
        ),
      );
    throw error;
  }
}

/**
 * Extracts the release's files (binds, secrets, configs) into a created
 * container, before its first start (Engine API `PUT /containers/{id}/archive`):
 * they are in its file system from the first instruction on.
 */
export async function putReleaseFiles(
  container: Docker.Container,
  archive: Buffer,
  service: PlanService,
): Promise<void> {
  try {
    await container.putArchive(archive, { path: "/" });
  } catch (error) {
    const said = (error as Error).message;
    const hint = service.container.readOnly
      ? "; read_only: true keeps Docker from writing the service's binds, secrets and configs into the container: put their targets under a tmpfs: path, or drop read_only"
      : "";
    throw new ReplicaFailure(
      `could not put the release's files into a ${service.name} container: ${said}${hint}`,
      [],
    );
  }
}

/**
 * Stops a replica with its grace period (its StopSignal, then SIGKILL when
 * the time is up, as Docker does with the container's StopTimeout) and
 * removes it. Already stopped, already gone or already being removed is
 * fine; any other answer of the daemon is thrown.
 */
export async function retireReplica(docker: Docker, replica: Pick<Replica, "id">): Promise<void> {
  const container = docker.getContainer(replica.id);
  await container.stop().catch(unless("notModified", "noSuchObject"));
  // v: its anonymous volumes (ephemeral, one per replica) go with it; named volumes never do.
  await container.remove({ force: true, v: true }).catch(unless("noSuchObject", "inProgress"));
}

/**
 * Docker's answer when its address pools are used up: "could not find an
 * available, non-overlapping IPv4 address pool among the defaults to assign
 * to the network". Its defaults hold about 31 bridge networks, and every
 * Skiff app has one.
 */
function poolsExhausted(error: Error): DependencyError | undefined {
  if (!/non-overlapping IPv4 address pool/.test(error.message)) return undefined;
  return new DependencyError(
    "Docker has no address range left for the app's network: its default pools hold about 31 networks, and every app (and every running test) uses one",
    'give Docker more, smaller pools in /etc/docker/daemon.json, e.g. "default-address-pools": [{"base": "10.200.0.0/16", "size": 24}] (256 networks), restart dockerd, and push again; `docker network ls` shows which networks hold the ranges now',
  );
}

/** The check a replica passed, in words for the deploy log. */
function describeHealth(health: PlanHealth): string {
  switch (health.type) {
    case "http":
      return `GET ${health.path} answered`;
    case "docker":
      return "its healthcheck passed";
    case "running":
      return `running ${(health.stableMs / 1000).toFixed(0)} s without a restart`;
  }
}
