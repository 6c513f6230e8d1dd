import { localImageId, pullReference } from "../../docker/image-pull.js";
import type { RegistryCredentials } from "../../registry/client.js";
import type { PlanService } from "../../spec/index.js";
import type { ReleaseRecord } from "../../state/runs.js";
import type { BuiltImage, RunContext } from "../pipeline.js";
import { StageFailure } from "../stage-failure.js";
import { serviceRepository } from "./naming.js";
import { type ReuseDeps, reusableImage } from "./reuse.js";

/**
 * A service that runs a given `image:` (a database, a cache) goes into the
 * release the way a built one does: the image is copied into the app's own
 * repository in Skiff's registry (REGISTRY/APP/SERVICE, tagged like a build),
 * and the release pins its digest. Every host can then pull it from one
 * place, a rollback gets the same bytes even after `local/redis:7` was
 * rebuilt, and the deploy always pulls `repository@digest`. The daemon's
 * push mounts layers the registry already holds (an image from Skiff's own
 * `bases/`), so the copy moves no layer twice.
 *
 * Like Compose's default `pull_policy: missing`, an image already on the
 * Docker host is used as it is; only a missing one is pulled.
 */
export async function prepareImageService(
  deps: ReuseDeps & { auth?: RegistryCredentials },
  ctx: RunContext,
  service: PlanService,
  previous: ReleaseRecord | undefined,
  tags: string[],
): Promise<BuiltImage> {
  if (service.source.type !== "image") throw new Error(`${service.name} does not run an image`);
  const reference = service.source.image;
  refuseOtherAppsImage(deps, ctx, service.name, reference);
  const id =
    (await localImageId(deps.docker, reference)) ?? (await pull(deps, ctx, service, reference));
  const repository = serviceRepository(deps.registryAddress, ctx.app, service.name);
  // The image's id is its content: the same id is the same bytes, whatever the reference says.
  const buildKey = `image ${id}`;
  const reused = await reusableImage(deps, previous, service.name, repository, buildKey);
  if (reused) {
    ctx.log(
      `${reference} is unchanged since r${reused.release}: reusing ${reused.image} (${reused.digest.slice(7, 19)})`,
      service.name,
    );
    return { service: service.name, repository, tags, buildKey, reused };
  }
  const [first] = tags as [string];
  await deps.docker.getImage(id).tag({ repo: repository, tag: first });
  ctx.log(
    `${reference} (${id.slice(7, 19)}) goes into the release as ${repository}:${first}`,
    service.name,
  );
  return { service: service.name, repository, tags, buildKey };
}

async function pull(
  deps: ReuseDeps & { auth?: RegistryCredentials },
  ctx: RunContext,
  service: PlanService,
  reference: string,
): Promise<string> {
  ctx.log(`${reference} is not on this Docker host: pulling it`, service.name);
  const ownRegistry = reference.startsWith(`${deps.registryAddress}/`);
  const result = await pullReference(deps.docker, {
    reference,
    ...(ownRegistry && deps.auth ? { auth: deps.auth } : {}),
    signal: ctx.signal,
  });
  if ("id" in result) return result.id;
  throw new StageFailure(
    `${service.name}: image ${reference} could not be pulled: ${result.failure}`,
    [
      ownRegistry
        ? `hint: the registry does not hold ${reference}; build it with skiff bases:build (skiff bases lists what there is), or push it there first`
        : `hint: build the image here (skiff bases:build makes base images from Debian's packages), load it with docker load, or push it to a registry the Docker host can reach, such as Skiff's own at ${deps.registryAddress}`,
    ],
  );
}

/**
 * An app runs its own images and the platform's base images, never another
 * app's: in Skiff's registry, only `bases/` and `APP/` are open to `APP`
 * (the registry is pulled from with Skiff's own credentials, so it must
 * not serve one app's code, or what is baked into it, to another's commit).
 */
function refuseOtherAppsImage(
  deps: ReuseDeps,
  ctx: RunContext,
  service: string,
  reference: string,
): void {
  if (!reference.startsWith(`${deps.registryAddress}/`)) return;
  const owner = reference.slice(deps.registryAddress.length + 1).split("/")[0];
  if (owner === "bases" || owner === ctx.app) return;
  throw new StageFailure(
    `${service}: image ${reference} belongs to another app in Skiff's registry; an app runs only its own images and the base images under bases/`,
    [`hint: name a base image (skiff bases lists them), or build the service here`],
  );
}
