import { join } from "node:path";
import type Docker from "dockerode";
import { buildInputsDigest } from "../../build/build-inputs.js";
import { baseImagesOf } from "../../build/dockerfile-bases.js";
import { localImageId, splitReference } from "../../docker/image-pull.js";
import { repositoryOf } from "../../docker/image-push.js";
import type { RegistryClient } from "../../registry/client.js";
import { SourceTree } from "../../source/tree.js";
import type { PlanService } from "../../spec/index.js";
import type { ReleaseRecord } from "../../state/runs.js";

/**
 * Skipping builds whose inputs did not change. A push that changes one
 * service would otherwise rebuild every service, and on a builder with an
 * empty cache each rebuild pulls its image's layers from the registry only
 * to produce the image the previous release already has.
 */

export interface ReuseDeps {
  docker: Docker;
  registry: RegistryClient;
  /** The registry's host as it appears in image references, e.g. 127.0.0.1:5000. */
  registryAddress: string;
}

/**
 * The digest of a service's build inputs, or a reason it cannot be known
 * (a FROM with an unresolved variable, a base image neither in the registry
 * nor on the Docker host): then the service is always built.
 */
export async function serviceBuildKey(
  deps: ReuseDeps,
  sourceDir: string,
  service: PlanService,
): Promise<{ key: string } | { unknown: string }> {
  const source = service.source;
  if (source.type !== "build") return { unknown: "not built by Skiff" };
  const tree = new SourceTree(sourceDir);
  const contextDir = buildContextDir(tree, service.name, source);
  const dockerfileText = tree.readText(join(source.context, source.dockerfile));
  if (dockerfileText === undefined) return { unknown: `cannot read ${source.dockerfile}` };
  const images = baseImagesOf(dockerfileText, source.args);
  if (images === undefined) return { unknown: "a FROM line names its image through a variable" };
  const bases: { image: string; resolvedTo: string }[] = [];
  for (const image of images) {
    const resolvedTo = await resolveBaseImage(deps, image);
    if (resolvedTo === undefined) return { unknown: `cannot resolve base image ${image}` };
    bases.push({ image, resolvedTo });
  }
  const key = await buildInputsDigest({
    contextDir,
    dockerfile: source.dockerfile,
    ...(source.target ? { target: source.target } : {}),
    args: source.args,
    bases,
  });
  return { key };
}

/**
 * The real path of a service's build context inside the pushed tree. Throws
 * a ValidationError when the context leads outside it (a link such as
 * `home -> ../../..`): the build would otherwise send host files to the builder.
 */
export function buildContextDir(
  tree: SourceTree,
  service: string,
  source: { context: string },
): string {
  return tree.directory(source.context, `services.${service}.build.context`);
}

/**
 * What a base image reference points at now: a pinned digest as it is, an
 * image in Skiff's registry by its manifest digest, anything else by the id
 * of the image on the Docker host.
 */
async function resolveBaseImage(deps: ReuseDeps, image: string): Promise<string | undefined> {
  const at = image.indexOf("@");
  if (at >= 0) return image.slice(at + 1);
  if (image.startsWith(`${deps.registryAddress}/`)) {
    const { name, tag } = splitReference(image);
    return deps.registry.manifestDigest(repositoryOf(name), tag).catch(() => undefined);
  }
  return localImageId(deps.docker, image);
}

/**
 * The previous release's image of `service` when it was built from exactly
 * these inputs and the registry still serves it.
 */
export async function reusableImage(
  deps: ReuseDeps,
  previous: ReleaseRecord | undefined,
  service: string,
  repository: string,
  key: string,
): Promise<{ digest: string; image: string; release: number } | undefined> {
  const earlier = previous?.images.find((i) => i.service === service);
  if (!previous || !earlier || earlier.buildKey !== key) return undefined;
  const served = await deps.registry
    .manifestDigest(repositoryOf(repository), earlier.digest)
    .catch(() => undefined);
  if (served !== earlier.digest) return undefined;
  return { digest: earlier.digest, image: earlier.image, release: previous.number };
}
