import type Docker from "dockerode";
import type { RegistryCredentials } from "../registry/client.js";
import { RegistryError } from "../registry/errors.js";
import {
  EngineRequestError,
  engineMessages,
  messageError,
  openEngineStream,
} from "./engine-stream.js";
import { registryAuthHeader } from "./image-push.js";

/**
 * Makes `repository@digest` present on the Docker host, pulling it through
 * the Engine API (`POST /images/create`) only when the host does not have it
 * yet, and gives it the local tags asked for, so containers and tests can
 * name it. Pulling by digest means the host runs exactly what was released,
 * whatever a tag points at by now. Returns the local image id.
 */
export async function ensureImage(
  docker: Docker,
  request: {
    repository: string;
    digest: string;
    tags?: readonly string[];
    registryUrl: string;
    auth?: RegistryCredentials;
    signal?: AbortSignal;
    onProgress?: (text: string) => void;
  },
): Promise<string> {
  const reference = `${request.repository}@${request.digest}`;
  let id = await localImageId(docker, reference);
  if (id === undefined) {
    request.onProgress?.(`pulling ${reference}`);
    const pulled = await pullReference(docker, {
      reference,
      ...(request.auth ? { auth: request.auth } : {}),
      ...(request.signal ? { signal: request.signal } : {}),
    });
    if ("failure" in pulled) {
      throw new RegistryError({
        message: `pull ${reference}: ${pulled.failure}`,
        registry: request.registryUrl,
        hint: "check that the registry still holds the image (skiff releases shows what each release runs) and that the Docker daemon can reach the registry",
      });
    }
    id = pulled.id;
  }
  for (const tag of request.tags ?? []) {
    await docker.getImage(id).tag({ repo: request.repository, tag });
  }
  return id;
}

/**
 * Pulls `reference` (`name[:tag]` or `name@digest`) through the Engine API
 * and answers the local image id, or what the daemon said when it could not.
 * A name without tag or digest is pulled as `:latest`: `POST /images/create`
 * with an empty tag would pull every tag of the repository (Engine API 1.41,
 * ImageCreate: "If tag is empty when pulling an image, this causes all tags
 * for the given image to be pulled").
 */
export async function pullReference(
  docker: Docker,
  request: { reference: string; auth?: RegistryCredentials; signal?: AbortSignal },
): Promise<{ id: string } | { failure: string }> {
  const { name, tag } = splitReference(request.reference);
  let failure: string | undefined;
  try {
    const response = await openEngineStream(docker, {
      method: "POST",
      path: "/images/create",
      query: { fromImage: name, tag },
      headers: { "X-Registry-Auth": registryAuthHeader(request.auth).reveal() },
      action: `pull ${request.reference}`,
      ...(request.signal ? { signal: request.signal } : {}),
    });
    for await (const message of engineMessages(response)) failure ??= messageError(message);
  } catch (error) {
    request.signal?.throwIfAborted();
    if (error instanceof EngineRequestError) failure = error.daemonMessage;
    else throw error;
  }
  request.signal?.throwIfAborted();
  if (failure !== undefined) return { failure };
  const id = await localImageId(
    docker,
    tag.startsWith("sha256:") ? `${name}@${tag}` : `${name}:${tag}`,
  );
  return id === undefined ? { failure: "the daemon finished but does not have the image" } : { id };
}

/** `host/repo:tag` → name and tag; `repo@sha256:…` → name and digest; no tag → `latest`. */
export function splitReference(reference: string): { name: string; tag: string } {
  const at = reference.indexOf("@");
  if (at >= 0) return { name: reference.slice(0, at), tag: reference.slice(at + 1) };
  const colon = reference.lastIndexOf(":");
  if (colon > reference.lastIndexOf("/")) {
    return { name: reference.slice(0, colon), tag: reference.slice(colon + 1) };
  }
  return { name: reference, tag: "latest" };
}

/**
 * The id of the image `reference` names on the Docker host; undefined when
 * the host does not have it (Engine API 404 "No such image"). Any other
 * answer of the daemon is thrown.
 */
export async function localImageId(docker: Docker, reference: string): Promise<string | undefined> {
  try {
    return (await docker.getImage(reference).inspect()).Id;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
}
