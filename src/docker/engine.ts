import { createHash } from "node:crypto";
import { resolve } from "node:path";
import Docker from "dockerode";

/** Labels every container, network and volume Skiff creates carries, so it can adopt and clean up. */
export const LABELS = {
  app: "skiff.app",
  service: "skiff.service",
  release: "skiff.release",
  replica: "skiff.replica",
  /** How a replica runs (serviceFingerprint): the same value, the same image and settings. */
  fingerprint: "skiff.fingerprint",
  /**
   * Which Skiff installation owns the object (instanceId): several data
   * directories may share one Docker host (a test next to the quickstart),
   * and one must never adopt or remove the other's containers.
   */
  instance: "skiff.instance",
  /** On the throwaway containers and networks of a run's test stage: the run number. */
  testRun: "skiff.test-run",
} as const;

/** A stable id of the installation at `home`: the same data directory, the same id. */
export function instanceId(home: string): string {
  return createHash("sha256").update(resolve(home)).digest("hex").slice(0, 12);
}

/**
 * The per-app network on which services reach each other by name. With the
 * installation's instance id in it, two installations on one Docker host
 * (a test server beside the quickstart) never share or remove each other's.
 */
export function appNetworkName(app: string, instance?: string): string {
  return instance ? `skiff-${app}-${instance}` : `skiff-${app}`;
}

/** A Docker Engine API client on the given unix socket. */
export function connectDocker(socketPath: string): Docker {
  return new Docker({ socketPath });
}

export interface DockerStatus {
  up: boolean;
  version?: string;
  apiVersion?: string;
  error?: string;
  hint?: string;
}

/** Asks the Engine for its version; a daemon that does not answer is reported, not thrown. */
export async function dockerStatus(docker: Docker, socketPath: string): Promise<DockerStatus> {
  try {
    const version = await docker.version();
    return { up: true, version: version.Version, apiVersion: version.ApiVersion };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const hint =
      code === "ENOENT" || code === "ECONNREFUSED"
        ? `start the Docker daemon (dockerd) so that ${socketPath} answers; scripts/quickstart starts it`
        : code === "EACCES"
          ? `run skiff as a user allowed to use ${socketPath} (root or the docker group)`
          : "check the daemon's log; `docker version` shows what the daemon says";
    return {
      up: false,
      error: `Docker Engine at ${socketPath}: ${code ?? (error as Error).message}`,
      hint,
    };
  }
}

/**
 * Removes every tag on this Docker host that starts with `prefix` (e.g.
 * `127.0.0.1:5000/shop/`); an image goes when its last tag does. A tag whose
 * image a container still uses stays. Returns the tags removed.
 */
export async function removeImagesTagged(docker: Docker, prefix: string): Promise<string[]> {
  const tags = (await docker.listImages())
    .flatMap((image) => image.RepoTags ?? [])
    .filter((tag) => tag.startsWith(prefix))
    .sort();
  const removed: string[] = [];
  for (const tag of tags) {
    const gone = await docker
      .getImage(tag)
      .remove()
      .then(
        () => true,
        (error: { statusCode?: number }) => error.statusCode === 404,
      );
    if (gone) removed.push(tag);
  }
  return removed;
}
