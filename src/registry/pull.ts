import type Docker from "dockerode";
import {
  EngineRequestError,
  engineMessages,
  messageError,
  openEngineStream,
} from "../build/engine-stream.js";
import type { RegistryCredentials } from "./client.js";
import { RegistryError } from "./errors.js";
import { registryAuthHeader } from "./push.js";

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
  let id = await imageId(docker, reference);
  if (id === undefined) {
    request.onProgress?.(`pulling ${reference}`);
    let failure: string | undefined;
    try {
      const response = await openEngineStream(docker, {
        method: "POST",
        path: "/images/create",
        query: { fromImage: request.repository, tag: request.digest },
        headers: { "X-Registry-Auth": registryAuthHeader(request.auth).reveal() },
        action: `pull ${reference}`,
        ...(request.signal ? { signal: request.signal } : {}),
      });
      for await (const message of engineMessages(response)) failure ??= messageError(message);
    } catch (error) {
      request.signal?.throwIfAborted();
      if (error instanceof EngineRequestError) failure = error.daemonMessage;
      else throw error;
    }
    request.signal?.throwIfAborted();
    id = failure === undefined ? await imageId(docker, reference) : undefined;
    if (id === undefined) {
      throw new RegistryError({
        message: `pull ${reference}: ${failure ?? "the daemon finished but does not have the image"}`,
        registry: request.registryUrl,
        hint: "check that the registry still holds the image (skiff releases shows what each release runs) and that the Docker daemon can reach the registry",
      });
    }
  }
  for (const tag of request.tags ?? []) {
    await docker.getImage(id).tag({ repo: request.repository, tag });
  }
  return id;
}

async function imageId(docker: Docker, reference: string): Promise<string | undefined> {
  try {
    return (await docker.getImage(reference).inspect()).Id;
  } catch {
    return undefined;
  }
}
