import type Docker from "dockerode";
import type { RegistryClient, RegistryCredentials } from "../registry/client.js";
import { RegistryError } from "../registry/errors.js";
import { Secret } from "../secret.js";
import {
  type EngineMessage,
  EngineRequestError,
  engineMessages,
  messageError,
  openEngineStream,
} from "./engine-stream.js";

/**
 * Publishing an image: `POST /images/{name}/push?tag=` through the Engine
 * API, then a check that the registry serves the digest the daemon pushed.
 * The daemon reports per-layer progress and any failure inside the JSON
 * stream; its last message carries the manifest digest in `aux.Digest`.
 */

export interface PushRequest {
  /** Repository with its registry host, e.g. `127.0.0.1:5000/shop/web`. */
  image: string;
  tag: string;
  /** The same registry, for the verification. */
  registry: RegistryClient;
  /** Credentials the daemon presents to the registry. Default: anonymous. */
  auth?: RegistryCredentials;
  signal?: AbortSignal;
}

/** Progress of one layer: `Preparing`, `Pushing`, `Pushed`, `Layer already exists`, `Mounted from ...`. */
export interface LayerEvent {
  type: "layer";
  id: string;
  status: string;
  current?: number;
  total?: number;
}

export type PushEvent = LayerEvent;

/** Pushing events for one layer go out at most this often; status changes always go out. */
export const LAYER_PROGRESS_INTERVAL_MS = 500;

/**
 * Pushes `image:tag` (already tagged locally) and returns the manifest
 * digest, checked against the registry's own answer. Throws RegistryError
 * with a hint when the push fails or the registry serves another digest.
 */
export async function pushImage(
  docker: Docker,
  request: PushRequest,
  onEvent: (event: PushEvent) => void = () => {},
): Promise<{ digest: string }> {
  const { image, tag, registry } = request;
  const reference = `${image}:${tag}`;
  const coalescer = new LayerCoalescer(onEvent);
  let pushed: string | undefined;
  let failure: string | undefined;
  try {
    const response = await openEngineStream(docker, {
      method: "POST",
      path: `/images/${image}/push`,
      query: { tag },
      headers: { "X-Registry-Auth": registryAuthHeader(request.auth).reveal() },
      action: `push ${reference}`,
      ...(request.signal ? { signal: request.signal } : {}),
    });
    for await (const message of engineMessages(response)) {
      failure ??= messageError(message);
      pushed = pushedDigest(message) ?? pushed;
      coalescer.add(message);
    }
  } catch (error) {
    request.signal?.throwIfAborted();
    if (error instanceof EngineRequestError) {
      throw pushError(
        describePushFailure(error.daemonMessage, reference, registry.url),
        registry.url,
        error,
      );
    }
    throw error;
  }
  coalescer.flush();
  request.signal?.throwIfAborted();
  if (failure !== undefined) {
    throw pushError(describePushFailure(failure, reference, registry.url), registry.url);
  }
  if (pushed === undefined) {
    throw new RegistryError({
      message: `push ${reference}: the daemon finished without reporting a digest`,
      registry: registry.url,
      hint: "push again; if it repeats, see the Docker daemon's log",
    });
  }
  const served = await registry.manifestDigest(repositoryOf(image), tag);
  if (served !== pushed) {
    throw new RegistryError({
      message:
        served === undefined
          ? `push ${reference}: the registry does not serve the tag after the push (the daemon pushed ${pushed})`
          : `push ${reference}: the registry serves ${served}, not the pushed ${pushed}`,
      registry: registry.url,
      hint: "another push may have moved the tag meanwhile, or a proxy in front of the registry rewrites manifests; push again and check that Skiff and the daemon use the same registry",
    });
  }
  return { digest: pushed };
}

/**
 * The `X-Registry-Auth` header: base64url (with padding, as Go's
 * base64.URLEncoding wants) of the JSON AuthConfig. The daemon refuses a push
 * without it ("Bad parameters and missing X-Registry-Auth"), so anonymous
 * pushes send `{}`.
 */
export function registryAuthHeader(auth: RegistryCredentials | undefined): Secret {
  const config = auth ? { username: auth.username, password: auth.password.reveal() } : {};
  const base64 = Buffer.from(JSON.stringify(config)).toString("base64");
  return new Secret(base64.replaceAll("+", "-").replaceAll("/", "_"));
}

/** `127.0.0.1:5000/shop/web` → `shop/web`: the first component is a host when it has `.` or `:` or is `localhost`. */
export function repositoryOf(image: string): string {
  const slash = image.indexOf("/");
  if (slash === -1) return image;
  const first = image.slice(0, slash);
  return first.includes(".") || first.includes(":") || first === "localhost"
    ? image.slice(slash + 1)
    : image;
}

/** The digest in the push stream's final `{"aux":{"Tag","Digest","Size"}}` message. */
export function pushedDigest(message: EngineMessage): string | undefined {
  if (typeof message.aux !== "object" || message.aux === null) return undefined;
  const digest = (message.aux as { Digest?: unknown }).Digest;
  return typeof digest === "string" ? digest : undefined;
}

/**
 * Passes layer progress on without flooding: an event whenever a layer's
 * status changes, and for a status that repeats with new byte counts
 * (`Pushing`) at most one per `intervalMs`; `flush` sends the last held one.
 */
export class LayerCoalescer {
  readonly #last = new Map<string, { status: string; at: number; held?: LayerEvent }>();

  constructor(
    private readonly onEvent: (event: PushEvent) => void,
    private readonly intervalMs = LAYER_PROGRESS_INTERVAL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  add(message: EngineMessage): void {
    if (!message.id || !message.status || message.error) return;
    const event: LayerEvent = { type: "layer", id: message.id, status: message.status };
    const { current, total } = message.progressDetail ?? {};
    if (current !== undefined) event.current = current;
    if (total !== undefined) event.total = total;
    const last = this.#last.get(message.id);
    const at = this.now();
    if (last && last.status === event.status && at - last.at < this.intervalMs) {
      last.held = event;
      return;
    }
    this.#last.set(message.id, { status: event.status, at });
    if (last?.held && last.status !== event.status) this.onEvent(last.held);
    this.onEvent(event);
  }

  flush(): void {
    for (const last of this.#last.values()) {
      if (last.held) this.onEvent(last.held);
      delete last.held;
    }
  }
}

/**
 * What a push failure means, from the daemon's error strings (docker/docker
 * distribution/push_v2.go and registry/, Go's net/http and net errors).
 */
export function describePushFailure(
  daemonMessage: string,
  reference: string,
  registry: string,
): { message: string; hint: string } {
  const said = daemonMessage.trim();
  const message = (reason: string) =>
    `push ${reference} to ${registry} failed: ${reason} (${said})`;
  if (/connection refused/.test(said)) {
    return {
      message: message("the registry is not running (connection refused)"),
      hint: "start the registry (`skiff server` runs the managed one on 127.0.0.1:5000), or point SKIFF_REGISTRY_URL at a running one",
    };
  }
  if (/no such host|server misbehaving|Temporary failure in name resolution/.test(said)) {
    return {
      message: message("the registry's host name does not resolve"),
      hint: "check the registry host in SKIFF_REGISTRY_URL",
    };
  }
  if (/i\/o timeout|deadline exceeded|TLS handshake timeout/.test(said)) {
    return {
      message: message("the registry did not answer in time"),
      hint: "check that the registry runs and that nothing between the Docker daemon and it drops traffic",
    };
  }
  if (/server gave HTTP response to HTTPS client/.test(said)) {
    return {
      message: message("the registry speaks plain HTTP but the daemon wants HTTPS"),
      hint: 'add the registry to "insecure-registries" in /etc/docker/daemon.json and restart dockerd (127.0.0.0/8 is insecure by default), or serve it over TLS',
    };
  }
  if (/x509|certificate/.test(said)) {
    return {
      message: message("the registry's TLS certificate is not trusted"),
      hint: "put the registry's CA certificate in /etc/docker/certs.d/<host:port>/ca.crt",
    };
  }
  if (/unauthorized|authentication required|no basic auth credentials/.test(said)) {
    return {
      message: message("the registry wants credentials"),
      hint: "set SKIFF_REGISTRY_USERNAME and SKIFF_REGISTRY_PASSWORD to an account allowed to push",
    };
  }
  if (/denied|forbidden/.test(said)) {
    return {
      message: message("the registry denied the push"),
      hint: "give the account push rights on this repository, or check the repository name",
    };
  }
  if (/does not exist locally|No such image|not found/.test(said)) {
    return {
      message: message("the image is not on this Docker host"),
      hint: "build or tag the image under that name first",
    };
  }
  if (/no space left on device/.test(said)) {
    return {
      message: message("the registry's disk is full"),
      hint: "free space in the registry's storage (delete old tags and run its garbage collection)",
    };
  }
  return {
    message: message("the daemon reported an error"),
    hint: "see the registry's and the Docker daemon's logs",
  };
}

function pushError(
  description: { message: string; hint: string },
  registry: string,
  cause?: unknown,
): RegistryError {
  return new RegistryError({ ...description, registry, ...(cause ? { cause } : {}) });
}
