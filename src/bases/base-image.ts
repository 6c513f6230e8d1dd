import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type Docker from "dockerode";
import { engineMessages, messageError, openEngineStream } from "../docker/engine-stream.js";
import { type PushEvent, pushImage } from "../docker/image-push.js";
import { DependencyError } from "../errors.js";
import { RegistryClient } from "../registry/client.js";
import { assertRepositoryName } from "../registry/requests.js";
import { CommandError, LineThrottle, runCommand, waitForCommand } from "./command.js";
import {
  assertSuite,
  cleanAptCaches,
  debootstrapArgs,
  findDebootstrap,
  mountsUnder,
  normalisePackages,
  prerequisiteProblem,
  rootfsTarArgs,
} from "./debootstrap.js";
import { detectMirror } from "./sources.js";

/**
 * Base images built from Debian packages, for hosts that cannot pull from
 * Docker Hub: debootstrap a minimal root filesystem with the packages,
 * import it as an image (`POST /images/create?fromSrc=-`), push it to the
 * registry as `REGISTRY/bases/NAME:SUITE`. A service then uses
 * `FROM 127.0.0.1:5000/bases/node:bookworm`.
 */

/** Labels of a base image: what it holds and when it was built. */
export const BASE_LABELS = {
  packages: "skiff.base.packages",
  suite: "skiff.base.suite",
  built: "skiff.base.built",
} as const;

export interface BaseImageRequest {
  /** The image's name under `bases/`, e.g. `node`. */
  name: string;
  /** Debian packages on top of minbase, e.g. `["nodejs"]`; may be empty. */
  packages: string[];
  suite: string;
  /** host:port of the registry, e.g. `127.0.0.1:5000`. */
  registryAddress: string;
  docker: Docker;
  /** Where the root filesystem is assembled (a temp dir inside it, removed afterwards). */
  workDir: string;
  /** Client for the same registry; default: plain HTTP to `registryAddress`. */
  registry?: RegistryClient;
  /**
   * Build even when an image with the same packages and suite exists; the
   * image it replaces is removed once no tag names it.
   */
  force?: boolean;
  /** Debian mirror; default: the one this host's apt uses for the suite. */
  mirror?: string;
  /** The debootstrap executable; default: found on PATH, /usr/sbin or /sbin. */
  debootstrap?: string;
  signal?: AbortSignal;
  /** Clock for the `skiff.base.built` label. */
  now?: () => Date;
}

export type BaseImagePhase = "debootstrap" | "clean" | "import" | "reuse" | "push";

/** Progress of a base image build. */
export type BaseImageEvent =
  | { type: "phase"; phase: BaseImagePhase; message: string }
  /** A debootstrap output line; `skipped` lines before it were coalesced away. */
  | { type: "output"; phase: "debootstrap"; text: string; skipped: number }
  | PushEvent;

export interface BaseImageResult {
  /** e.g. `127.0.0.1:5000/bases/node:bookworm` */
  reference: string;
  imageId: string;
  /** The manifest digest in the registry. */
  digest: string;
  /** True when an existing image was pushed instead of building a new one. */
  reused: boolean;
  packages: string[];
  suite: string;
  /** ISO 8601, from the image's label. */
  built: string;
  sizeBytes: number;
}

/** `REGISTRY/bases/NAME:SUITE` */
export function baseImageReference(registryAddress: string, name: string, suite: string): string {
  return `${registryAddress}/bases/${name}:${suite}`;
}

/**
 * Builds (or reuses) a base image and pushes it. Needs root and
 * debootstrap; throws DependencyError when either is missing and
 * CommandError (exit code, stderr tail, hint) when debootstrap or tar fails.
 */
export async function buildBaseImage(
  request: BaseImageRequest,
  onEvent: (event: BaseImageEvent) => void = () => {},
): Promise<BaseImageResult> {
  const { docker, name, suite, registryAddress } = request;
  assertRepositoryName(`bases/${name}`);
  assertSuite(suite);
  const packages = normalisePackages(request.packages);
  const reference = baseImageReference(registryAddress, name, suite);
  const repository = `${registryAddress}/bases/${name}`;
  const registry = request.registry ?? new RegistryClient({ url: `http://${registryAddress}` });

  const previous = await imageIdOf(docker, reference);
  let imageId: string | undefined;
  let reused = false;
  if (!request.force) {
    imageId = await findReusable(docker, reference, packages, suite);
    if (imageId !== undefined) {
      reused = true;
      onEvent({
        type: "phase",
        phase: "reuse",
        message: `an image with ${describePackages(packages)} on ${suite} exists (${imageId.slice(7, 19)}); pushing it`,
      });
      await docker.getImage(imageId).tag({ repo: repository, tag: suite });
    }
  }
  if (imageId === undefined) {
    imageId = await buildAndImport(request, packages, repository, onEvent);
  }
  if (previous !== undefined && previous !== imageId) await removeIfUntagged(docker, previous);

  onEvent({ type: "phase", phase: "push", message: `pushing ${reference}` });
  const { digest } = await pushImage(
    docker,
    {
      image: repository,
      tag: suite,
      registry,
      ...(request.signal ? { signal: request.signal } : {}),
    },
    onEvent,
  );
  const inspect = await docker.getImage(imageId).inspect();
  return {
    reference,
    imageId,
    digest,
    reused,
    packages,
    suite,
    built: inspect.Config?.Labels?.[BASE_LABELS.built] ?? inspect.Created,
    sizeBytes: inspect.Size,
  };
}

async function buildAndImport(
  request: BaseImageRequest,
  packages: string[],
  repository: string,
  onEvent: (event: BaseImageEvent) => void,
): Promise<string> {
  const debootstrap = await findDebootstrap(request.debootstrap);
  const problem = prerequisiteProblem({ uid: process.getuid?.(), debootstrap });
  if (problem) throw problem;
  const mirror = request.mirror ?? (await detectMirror(request.suite));
  await mkdir(request.workDir, { recursive: true });
  const workDir = await mkdtemp(join(request.workDir, "base-"));
  const rootfs = join(workDir, "rootfs");
  try {
    onEvent({
      type: "phase",
      phase: "debootstrap",
      message: `debootstrap ${request.suite} (minbase${packages.length ? ` + ${packages.join(", ")}` : ""}) from ${mirror}`,
    });
    const throttle = new LineThrottle((text, skipped) =>
      onEvent({ type: "output", phase: "debootstrap", text, skipped }),
    );
    const args = debootstrapArgs({ packages, suite: request.suite, target: rootfs, mirror });
    await runCommand(debootstrap as string, args, {
      onLine: (line) => throttle.add(line),
      ...(request.signal ? { signal: request.signal } : {}),
      hint: (_code, stderr) => debootstrapHint(stderr, mirror, packages),
    }).catch(async (error: unknown) => {
      throttle.flush();
      throw await withDebootstrapLog(error, rootfs);
    });
    throttle.flush();

    onEvent({ type: "phase", phase: "clean", message: "removing apt caches and package lists" });
    await cleanAptCaches(rootfs);

    onEvent({
      type: "phase",
      phase: "import",
      message: `importing the root filesystem as ${repository}:${request.suite}`,
    });
    return await importRootfs(request, rootfs, packages, repository);
  } finally {
    await removeWorkDir(workDir);
  }
}

/** Streams `tar` of the root filesystem into `POST /images/create?fromSrc=-` with the labels. */
async function importRootfs(
  request: BaseImageRequest,
  rootfs: string,
  packages: string[],
  repository: string,
): Promise<string> {
  const built = (request.now?.() ?? new Date()).toISOString();
  const tarArgs = rootfsTarArgs(rootfs);
  const tar = spawn("tar", tarArgs, { stdio: ["ignore", "pipe", "pipe"] });
  const tarDone = waitForCommand(tar, "tar", tarArgs, {
    hint: () => "check free disk space and that the work directory is readable",
  });
  tarDone.catch(() => {}); // awaited below; the import may fail first
  let imported: string | undefined;
  let failure: string | undefined;
  try {
    const response = await openEngineStream(request.docker, {
      method: "POST",
      path: "/images/create",
      query: importQuery({ repository, tag: request.suite, packages, suite: request.suite, built }),
      headers: { "Content-Type": "application/x-tar" },
      body: tar.stdout,
      action: `import ${repository}:${request.suite}`,
      ...(request.signal ? { signal: request.signal } : {}),
    });
    for await (const message of engineMessages(response)) {
      failure ??= messageError(message);
      if (message.status?.startsWith("sha256:")) imported = message.status;
    }
  } finally {
    if (tar.exitCode === null && tar.signalCode === null) tar.kill();
  }
  await tarDone;
  if (failure !== undefined || imported === undefined) {
    throw new DependencyError(
      `Docker Engine could not import the base image ${repository}:${request.suite}: ${failure ?? "no image id in its answer"}`,
      "see the Docker daemon's log; a full disk is the usual cause",
    );
  }
  return imported;
}

/**
 * The query of `POST /images/create` for an import: the tag, and the labels
 * and default command as `changes` (Dockerfile instructions the daemon
 * applies to the imported image's config).
 */
export function importQuery(options: {
  repository: string;
  tag: string;
  packages: string[];
  suite: string;
  built: string;
}): Record<string, string | string[]> {
  const label = (key: string, value: string) => `${key}=${JSON.stringify(value)}`;
  return {
    fromSrc: "-",
    repo: options.repository,
    tag: options.tag,
    message: `skiff base image: debootstrap --variant=minbase ${options.suite}${options.packages.length ? ` + ${options.packages.join(",")}` : ""}`,
    changes: [
      [
        "LABEL",
        label(BASE_LABELS.packages, options.packages.join(",")),
        label(BASE_LABELS.suite, options.suite),
        label(BASE_LABELS.built, options.built),
      ].join(" "),
      'CMD ["bash"]',
    ],
  };
}

/**
 * An image built earlier from the same packages and suite: the one already
 * tagged `reference` if its labels match, else any other with those labels.
 */
async function findReusable(
  docker: Docker,
  reference: string,
  packages: string[],
  suite: string,
): Promise<string | undefined> {
  const images = await docker.listImages({ filters: { label: [`${BASE_LABELS.suite}=${suite}`] } });
  const wanted = packages.join(",");
  const matching = images.filter((image) => image.Labels?.[BASE_LABELS.packages] === wanted);
  const tagged = matching.find((image) => image.RepoTags?.includes(reference));
  return (tagged ?? matching[0])?.Id;
}

async function imageIdOf(docker: Docker, reference: string): Promise<string | undefined> {
  try {
    return (await docker.getImage(reference).inspect()).Id;
  } catch {
    return undefined;
  }
}

/**
 * Removes the image a rebuild replaced, once no tag names it any more. The
 * daemon refuses while a container or a locally built image still uses it,
 * and then it stays: that is the right outcome, so the refusal is ignored.
 */
async function removeIfUntagged(docker: Docker, id: string): Promise<void> {
  try {
    const image = await docker.getImage(id).inspect();
    if ((image.RepoTags ?? []).length === 0) await docker.getImage(id).remove();
  } catch {
    // in use, or already gone
  }
}

function describePackages(packages: string[]): string {
  return packages.length ? `packages ${packages.join(", ")}` : "no extra packages";
}

/** What to do about a failed debootstrap, from its stderr (debootstrap's own E: lines). */
export function debootstrapHint(stderr: string[], mirror: string, packages: string[]): string {
  const text = stderr.join("\n");
  if (/Couldn't find these debs|Couldn't download package|E: Couldn't find/.test(text)) {
    return `a package is not in ${mirror} for this suite: check the names (${packages.join(", ") || "none"}) with apt-cache policy`;
  }
  if (
    /Failed getting release file|Couldn't download|Release signed by unknown key|Invalid Release/.test(
      text,
    )
  ) {
    return `debootstrap could not fetch the suite's Release file from ${mirror}: check that the mirror is reachable (curl ${mirror}/dists/) or pass another mirror`;
  }
  if (/No space left on device/.test(text)) {
    return "the work directory's disk is full: free space or use another work directory";
  }
  return "see debootstrap's log lines above (the end of <target>/debootstrap/debootstrap.log)";
}

/** Adds the end of debootstrap's own log (it says more than stderr) to its failure. */
async function withDebootstrapLog(error: unknown, rootfs: string): Promise<unknown> {
  if (!(error instanceof CommandError)) return error;
  const log = await readFile(join(rootfs, "debootstrap/debootstrap.log"), "utf8").catch(() => "");
  if (!log) return error;
  const tail = log.trimEnd().split("\n").slice(-15);
  return new CommandError(
    `${error.message}\ndebootstrap.log ends with:\n${tail.join("\n")}`,
    error.hint ?? "",
    error.exitCode,
    error.stderrTail,
  );
}

/** Deletes the work directory, after unmounting anything debootstrap left mounted in it. */
async function removeWorkDir(workDir: string): Promise<void> {
  for (const point of await mountsUnder(workDir)) {
    await runCommand("umount", ["--lazy", point]).catch(() => {});
  }
  if ((await mountsUnder(workDir)).length > 0) {
    throw new DependencyError(
      `${workDir} still has mounts in it; not deleting it`,
      `unmount them (grep ${workDir} /proc/self/mounts) and delete the directory by hand`,
    );
  }
  await rm(workDir, { recursive: true, force: true });
}

/** A base image on this host, and whether the registry has it. */
export interface BaseImageInfo {
  name: string;
  suite: string;
  /** e.g. `127.0.0.1:5000/bases/node:bookworm` */
  reference: string;
  /** Unknown for an image only in the registry. */
  packages?: string[];
  sizeBytes?: number;
  /** ISO 8601 */
  built?: string;
  imageId?: string;
  /** The manifest digest in the registry; undefined when the registry does not have it. */
  digest?: string;
  /** Whether the image is on this Docker host. */
  local: boolean;
}

/**
 * Base images on this host (labelled `skiff.base.*`) and under `bases/` in
 * the registry, sorted by name. Throws RegistryError when the registry
 * cannot be listed.
 */
export async function listBaseImages(
  docker: Docker,
  registry: RegistryClient,
): Promise<BaseImageInfo[]> {
  const host = new URL(registry.url).host;
  const found = new Map<string, BaseImageInfo>();
  const images = await docker.listImages({ filters: { label: [BASE_LABELS.suite] } });
  for (const image of images) {
    const labels = image.Labels ?? {};
    for (const tag of image.RepoTags ?? []) {
      const match = /^(.+)\/bases\/([^:]+):(.+)$/.exec(tag);
      if (!match || match[1] !== host) continue;
      const [, , name = "", suite = ""] = match;
      const packages = labels[BASE_LABELS.packages];
      found.set(tag, {
        name,
        suite,
        reference: tag,
        packages: packages ? packages.split(",") : [],
        sizeBytes: image.Size,
        built: labels[BASE_LABELS.built] ?? new Date(image.Created * 1000).toISOString(),
        imageId: image.Id,
        local: true,
      });
    }
  }
  const repositories = (await registry.catalog()).filter((repo) => repo.startsWith("bases/"));
  for (const repository of repositories) {
    for (const suite of await registry.tags(repository)) {
      const name = repository.slice("bases/".length);
      const reference = `${host}/${repository}:${suite}`;
      const digest = await registry.manifestDigest(repository, suite);
      const entry = found.get(reference) ?? { name, suite, reference, local: false };
      if (digest) entry.digest = digest;
      found.set(reference, entry);
    }
  }
  return [...found.values()].sort((a, b) => a.reference.localeCompare(b.reference));
}
