import type Docker from "dockerode";
import { pushImage, repositoryOf } from "../../docker/image-push.js";
import type { RegistryClient, RegistryCredentials } from "../../registry/client.js";
import { RegistryError } from "../../registry/errors.js";
import type { ReleaseImage } from "../../state/runs.js";
import type { BuiltImage, RunContext } from "../pipeline.js";
import { StageFailure } from "../stage-failure.js";

/**
 * Pushes every built image and records its digest, checked against the
 * registry's own answer to a manifest HEAD. Images are published at once,
 * each pushed by the Docker Engine under its first tag; its other tags are
 * put in the registry by digest (no second push through the daemon).
 * Services that run a given `image:` come as images too: the build stage
 * tagged them into the app's repository (image-services.ts), so each is
 * pushed and pinned by digest like a built one. A registry that is down fails the
 * stage with which registry and why; nothing running changes.
 */
export async function publishImages(
  deps: { docker: Docker; registry: RegistryClient; auth?: RegistryCredentials },
  ctx: RunContext,
  images: BuiltImage[],
): Promise<ReleaseImage[]> {
  // Every push and tag settles before the stage ends, failed or not: a late
  // tag of this run's release number must not land after a later run took it.
  const outcomes = await Promise.allSettled(
    images.map((image) =>
      image.reused
        ? retagInRegistry(deps.registry, ctx, image, image.reused.digest, image.tags)
        : pushBuilt(deps, ctx, image),
    ),
  );
  const failed = outcomes.find((o) => o.status === "rejected");
  if (failed) throw failed.reason;
  return outcomes.map((o) => (o as PromiseFulfilledResult<ReleaseImage>).value);
}

/** Pushes a built image under its first tag, then tags it by digest in the registry for the others. */
async function pushBuilt(
  deps: { docker: Docker; registry: RegistryClient; auth?: RegistryCredentials },
  ctx: RunContext,
  image: BuiltImage,
): Promise<ReleaseImage> {
  const [first, ...others] = image.tags as [string, ...string[]];
  ctx.log(`pushing ${image.repository}:${first}`, image.service);
  const { digest } = await registryStep(ctx, image, () =>
    pushImage(
      deps.docker,
      {
        image: image.repository,
        tag: first,
        registry: deps.registry,
        ...(deps.auth ? { auth: deps.auth } : {}),
        signal: ctx.signal,
      },
      (event) => {
        if (/^(Pushed|Layer already exists|Mounted from)/.test(event.status)) {
          ctx.log(`${event.id}: ${event.status}`, image.service);
        }
      },
    ),
  );
  return retagInRegistry(deps.registry, ctx, image, digest, others);
}

/**
 * Puts the manifest `digest` under each of `tags` inside the registry: no
 * layer moves and the Docker host need not have the image (a reused image
 * may only be in the registry). Returns the release's image: its last tag.
 */
async function retagInRegistry(
  registry: RegistryClient,
  ctx: RunContext,
  image: BuiltImage,
  digest: string,
  tags: readonly string[],
): Promise<ReleaseImage> {
  // One after the other: Distribution's filesystem storage rewrites a
  // manifest's link files in place on each PUT, and a tag put beside
  // another of the same manifest read a half-written one ("invalid
  // checksum digest format", a 500; seen in bench/zero-downtime).
  for (const tag of tags) {
    await registryStep(ctx, image, () =>
      registry.tagManifest(repositoryOf(image.repository), digest, tag),
    );
    ctx.log(`tagged ${image.repository}:${tag} in the registry (no layers pushed)`, image.service);
  }
  const releaseTag = image.tags[image.tags.length - 1] as string;
  ctx.log(`${image.repository}:${releaseTag} is ${digest}`, image.service);
  return {
    service: image.service,
    image: `${image.repository}:${releaseTag}`,
    digest,
    ...(image.buildKey ? { buildKey: image.buildKey } : {}),
  };
}

/** Runs one registry operation, turning a registry failure into the stage's failure with its hint. */
async function registryStep<T>(ctx: RunContext, image: BuiltImage, step: () => Promise<T>) {
  try {
    return await step();
  } catch (error) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    if (error instanceof RegistryError) {
      throw new StageFailure(`${image.service}: ${error.message}`, [`hint: ${error.hint}`]);
    }
    throw error;
  }
}
