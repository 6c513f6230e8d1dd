import type Docker from "dockerode";
import type { RegistryClient, RegistryCredentials } from "../../registry/client.js";
import { RegistryError } from "../../registry/errors.js";
import { pushImage, repositoryOf } from "../../registry/push.js";
import type { ReleaseImage } from "../../state/runs.js";
import type { BuiltImage, RunContext } from "../pipeline.js";
import { StageFailure } from "../pipeline.js";

/**
 * Pushes every built image under each of its tags and records its digest,
 * checked against the registry's own answer to a manifest HEAD. Services
 * that run a given `image:` are recorded by the image's id, so a release
 * names exactly what it runs. A registry that is down fails the stage with
 * which registry and why; nothing running changes.
 */
export async function publishImages(
  deps: { docker: Docker; registry: RegistryClient; auth?: RegistryCredentials },
  ctx: RunContext,
  images: BuiltImage[],
): Promise<ReleaseImage[]> {
  const released: ReleaseImage[] = [];
  for (const image of images) {
    if (image.reused) {
      released.push(await retagReused(deps.registry, ctx, image, image.reused.digest));
      continue;
    }
    let digest: string | undefined;
    for (const tag of image.tags) {
      ctx.log(`pushing ${image.repository}:${tag}`, image.service);
      try {
        const result = await pushImage(
          deps.docker,
          {
            image: image.repository,
            tag,
            registry: deps.registry,
            ...(deps.auth ? { auth: deps.auth } : {}),
            signal: ctx.signal,
          },
          (event) => {
            if (/^(Pushed|Layer already exists|Mounted from)/.test(event.status)) {
              ctx.log(`${event.id}: ${event.status}`, image.service);
            }
          },
        );
        digest = result.digest;
      } catch (error) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        if (error instanceof RegistryError) {
          throw new StageFailure(`${image.service}: ${error.message}`, [`hint: ${error.hint}`]);
        }
        throw error;
      }
    }
    const releaseTag = image.tags[image.tags.length - 1] as string;
    ctx.log(`${image.repository}:${releaseTag} is ${digest}`, image.service);
    released.push({
      service: image.service,
      image: `${image.repository}:${releaseTag}`,
      digest: digest as string,
      ...(image.buildKey ? { buildKey: image.buildKey } : {}),
    });
  }
  for (const service of ctx.plan.services) {
    if (service.source.type !== "image") continue;
    const ref = service.source.image;
    try {
      const inspected = await deps.docker.getImage(ref).inspect();
      released.push({ service: service.name, image: ref, digest: inspected.Id });
      ctx.log(`${ref} is ${inspected.Id} (not built by Skiff)`, service.name);
    } catch {
      throw new StageFailure(`${service.name}: image ${ref} is not on this Docker host`, [
        `hint: build or load it here first (docker load, or skiff bases:build for a base image), or push it to the registry and name it there`,
      ]);
    }
  }
  return released;
}

/**
 * A reused image gets this release's tags inside the registry: its manifest
 * is put under each new tag, so no layer moves and the Docker host need not
 * have the image.
 */
async function retagReused(
  registry: RegistryClient,
  ctx: RunContext,
  image: BuiltImage,
  digest: string,
): Promise<ReleaseImage> {
  for (const tag of image.tags) {
    try {
      await registry.tagManifest(repositoryOf(image.repository), digest, tag);
    } catch (error) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      if (error instanceof RegistryError) {
        throw new StageFailure(`${image.service}: ${error.message}`, [`hint: ${error.hint}`]);
      }
      throw error;
    }
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
