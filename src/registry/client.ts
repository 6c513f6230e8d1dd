import { createHash } from "node:crypto";
import { ValidationError } from "../errors.js";
import { Secret } from "../secret.js";
import {
  type BearerChallenge,
  basicAuthorization,
  type CachedToken,
  findBearerChallenge,
  parseTokenResponse,
  parseWwwAuthenticate,
  tokenRequestUrl,
} from "./auth.js";
import {
  describeHttpFailure,
  describeNetworkError,
  type FailureDescription,
  parseErrorBody,
  RegistryError,
} from "./errors.js";
import {
  assertRepositoryName,
  catalogRequest,
  manifestDeleteRequest,
  manifestGetRequest,
  manifestHeadRequest,
  manifestPutRequest,
  nextPageRequest,
  parseLinkNext,
  pingRequest,
  type RegistryRequest,
  tagsRequest,
} from "./requests.js";

export { RegistryError } from "./errors.js";

/** An account on the registry. The password stays a Secret until it goes into a header. */
export interface RegistryCredentials {
  username: string;
  password: Secret;
}

export interface RegistryClientOptions {
  /** Base URL of the registry, e.g. http://127.0.0.1:5000. */
  url: string;
  credentials?: RegistryCredentials;
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Per HTTP request, token requests included. Default 10 000. */
  timeoutMs?: number;
  /** `n` for _catalog and tags/list pages; default: the registry's own (100 for Distribution). */
  pageSize?: number;
  /** Clock for token expiry, ms since the epoch. Default Date.now. */
  now?: () => number;
}

/** The answer to "is the registry there and usable?"; `ping()` never throws. */
export type RegistryPing =
  | { ok: true; apiVersion: string }
  | { ok: false; status?: number; reason: string; hint: string };

/** A tag removed by `deleteRepositoryTags`, with the manifest digest it pointed at. */
export interface DeletedTag {
  repository: string;
  tag: string;
  digest: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** Guards against a registry whose Link headers never end. */
const MAX_PAGES = 10_000;

/**
 * A thin client for the Docker Registry HTTP API v2 / OCI distribution API.
 * Requests are built by the pure functions in requests.ts; this class only
 * sends them and answers authentication challenges like the Docker client
 * does: anonymous first; on 401 `Basic` retry with the credentials; on 401
 * `Bearer` get a token from the realm and retry; tokens are cached per scope
 * until they expire. One instance per registry, shareable: calls may run
 * concurrently (at worst two of them fetch the same token).
 */
export class RegistryClient {
  /** The registry's base URL without a trailing slash; what errors name. */
  readonly url: string;
  readonly #credentials: RegistryCredentials | undefined;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #pageSize: number | undefined;
  readonly #now: () => number;
  readonly #tokens = new Map<string, CachedToken>();
  /** Set once the registry asked for Basic: from then on it goes with every request. */
  #basic = false;

  constructor(options: RegistryClientOptions) {
    this.url = normaliseRegistryUrl(options.url);
    this.#credentials = options.credentials;
    this.#fetch = options.fetch ?? fetch;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#pageSize = options.pageSize;
    this.#now = options.now ?? Date.now;
  }

  /** GET /v2/: whether the registry is reachable, speaks the v2 API and accepts the credentials. */
  async ping(): Promise<RegistryPing> {
    const action = "reach the registry API at /v2/";
    let response: Response;
    try {
      response = await this.#exchange(pingRequest(), action);
    } catch (error) {
      if (!(error instanceof RegistryError)) throw error;
      return {
        ok: false,
        ...(error.status === undefined ? {} : { status: error.status }),
        reason: error.message,
        hint: error.hint,
      };
    }
    const { status } = response;
    const apiVersion = response.headers.get("docker-distribution-api-version");
    await discard(response);
    if (response.ok && apiVersion) return { ok: true, apiVersion };
    const failure: FailureDescription = response.ok
      ? {
          reason: `not a registry: ${status} from /v2/ without the Docker-Distribution-API-Version header`,
          hint: "point the URL at the registry's base address (e.g. http://127.0.0.1:5000), not at a web server or a path behind a proxy",
        }
      : status === 404
        ? {
            reason: "not a registry: /v2/ is not found (404)",
            hint: "point the URL at the registry's base address (e.g. http://127.0.0.1:5000); registries serve their API at /v2/",
          }
        : describeHttpFailure({ action, status, errors: [], ...this.#username() });
    return { ok: false, status, reason: this.#message(failure.reason), hint: failure.hint };
  }

  /** Every repository name, following the catalog's Link pagination. */
  async catalog(): Promise<string[]> {
    return this.#paginate(catalogRequest(this.#pageSize), "list the repositories", (body) =>
      stringList(body, "repositories"),
    );
  }

  /** The tags of `repository`; [] when the registry does not know the repository. */
  async tags(repository: string): Promise<string[]> {
    return this.#paginate(
      tagsRequest(repository, this.#pageSize),
      `list the tags of ${repository}`,
      (body) => stringList(body, "tags"),
      { notFoundIsEmpty: true },
    );
  }

  /** The manifest digest `repository:reference` points at, or undefined when there is none. */
  async manifestDigest(repository: string, reference: string): Promise<string | undefined> {
    const action = `look up ${repository}:${reference}`;
    const response = await this.#exchange(manifestHeadRequest(repository, reference), action);
    if (response.status === 404) {
      await discard(response);
      return undefined;
    }
    await this.#ensureOk(response, action);
    await discard(response);
    const digest = response.headers.get("docker-content-digest");
    if (digest) return digest;
    // The OCI spec lets a registry leave the header off; the digest is then
    // the sha256 of the manifest bytes exactly as served.
    const full = await this.#exchange(manifestGetRequest(repository, reference), action);
    await this.#ensureOk(full, action);
    const bytes = Buffer.from(await full.arrayBuffer());
    return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  }

  /**
   * Points `tag` at the manifest `digest` of the same repository, inside the
   * registry: the manifest's bytes are read and put back under the new tag,
   * so no layer leaves the registry. Returns the digest the registry reports
   * for the tag, which must equal `digest`.
   */
  async tagManifest(repository: string, digest: string, tag: string): Promise<string> {
    const action = `tag ${repository}@${digest} as ${tag}`;
    const got = await this.#exchange(manifestGetRequest(repository, digest), action);
    await this.#ensureOk(got, action);
    const mediaType = got.headers.get("content-type")?.split(";")[0]?.trim();
    const bytes = new Uint8Array(await got.arrayBuffer());
    if (!mediaType) {
      throw new RegistryError({
        message: `${this.url} answered ${repository}@${digest} without a Content-Type`,
        registry: this.url,
        hint: "the registry must serve manifests with their media type (Distribution and every OCI registry do)",
      });
    }
    const put = await this.#exchange(
      manifestPutRequest(repository, tag, { mediaType, bytes }),
      action,
    );
    await this.#ensureOk(put, action);
    await discard(put);
    const tagged = await this.manifestDigest(repository, tag);
    if (tagged !== digest) {
      throw new RegistryError({
        message: `${this.url} reports ${repository}:${tag} as ${tagged ?? "missing"} right after it was tagged ${digest}`,
        registry: this.url,
        hint: "another client may be writing the same tag; push again",
      });
    }
    return digest;
  }

  /**
   * Deletes a manifest (and with it every tag pointing at it) by digest.
   * Already gone is fine; a registry with deletes disabled (405) throws a
   * RegistryError whose hint says how to enable them.
   */
  async deleteManifest(repository: string, digest: string): Promise<void> {
    const action = `delete manifest ${digest} of ${repository}`;
    const response = await this.#exchange(manifestDeleteRequest(repository, digest), action);
    if (response.status === 404) {
      await discard(response);
      return;
    }
    await this.#ensureOk(response, action);
    await discard(response);
  }

  /**
   * Deletes every tag of every repository named `prefix` or under
   * `${prefix}/` (an app's images are APP/SERVICE), by digest, and returns
   * what was deleted. Other repositories are never touched, even ones that
   * merely start with the same letters (`shop` does not match `shopping`).
   */
  async deleteRepositoryTags(prefix: string, known: readonly string[] = []): Promise<DeletedTag[]> {
    assertRepositoryName(prefix);
    const inPrefix = (name: string) => name === prefix || name.startsWith(`${prefix}/`);
    let listed: string[];
    try {
      listed = await this.catalog();
    } catch (error) {
      // Hosted registries (GHCR, Docker Hub, ECR) do not offer the catalog;
      // the repositories Skiff pushed to are then all it can know of.
      if (known.length === 0) throw error;
      listed = [];
    }
    const repositories = [...new Set([...listed, ...known])].filter(inPrefix).sort();
    const deleted: DeletedTag[] = [];
    for (const repository of repositories) {
      const found: DeletedTag[] = [];
      for (const tag of (await this.tags(repository)).sort()) {
        const digest = await this.manifestDigest(repository, tag);
        if (digest) found.push({ repository, tag, digest });
      }
      // Several tags may share a manifest; one delete removes them all.
      for (const digest of new Set(found.map((entry) => entry.digest))) {
        await this.deleteManifest(repository, digest);
      }
      deleted.push(...found);
    }
    return deleted;
  }

  async #paginate(
    first: RegistryRequest,
    action: string,
    pick: (body: unknown) => string[],
    options: { notFoundIsEmpty?: boolean } = {},
  ): Promise<string[]> {
    const items: string[] = [];
    const seen = new Set<string>();
    let request: RegistryRequest | undefined = first;
    while (request && !seen.has(request.path) && seen.size < MAX_PAGES) {
      seen.add(request.path);
      const response = await this.#exchange(request, action);
      if (response.status === 404 && options.notFoundIsEmpty) {
        await discard(response);
        return items;
      }
      await this.#ensureOk(response, action);
      items.push(...pick(await this.#json(response, action)));
      const next = parseLinkNext(response.headers.get("link"));
      request = next === undefined ? undefined : nextPageRequest(request, next);
    }
    return items;
  }

  /**
   * Sends `request`, answering one authentication challenge. Returns the
   * final response whatever its status; throws RegistryError only when no
   * answer came (or the token exchange failed).
   */
  async #exchange(request: RegistryRequest, action: string): Promise<Response> {
    const upfront = this.#upfrontAuthorization(request);
    const first = await this.#send(request, upfront, action);
    if (first.status !== 401) return first;

    const challenges = parseWwwAuthenticate(first.headers.get("www-authenticate"));
    const bearer = findBearerChallenge(challenges);
    let retry: Secret | undefined;
    if (bearer) {
      const token = await this.#fetchToken(bearer, action);
      this.#tokens.set(bearer.scope ?? "", token);
      if (request.scope !== undefined) this.#tokens.set(request.scope, token);
      retry = new Secret(`Bearer ${token.token.reveal()}`);
    } else if (this.#credentials && !this.#basic && challenges.some((c) => c.scheme === "basic")) {
      this.#basic = true;
      retry = basicAuthorization(this.#credentials.username, this.#credentials.password);
    }
    if (retry === undefined) return first;
    await discard(first);
    return this.#send(request, retry, action);
  }

  #upfrontAuthorization(request: RegistryRequest): Secret | undefined {
    if (this.#basic && this.#credentials) {
      return basicAuthorization(this.#credentials.username, this.#credentials.password);
    }
    const cached = this.#tokens.get(request.scope ?? "");
    if (cached && cached.expiresAt > this.#now())
      return new Secret(`Bearer ${cached.token.reveal()}`);
    return undefined;
  }

  /** The one place a registry request goes out. */
  async #send(
    request: RegistryRequest,
    authorization: Secret | undefined,
    action: string,
  ): Promise<Response> {
    const headers: Record<string, string> = { ...request.headers };
    if (authorization) headers.authorization = authorization.reveal();
    try {
      // Concatenated, not resolved: a registry behind a path prefix keeps it.
      return await this.#fetch(`${this.url}${request.path}`, {
        method: request.method,
        headers,
        ...(request.body ? { body: request.body } : {}),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      throw this.#networkError(error, action);
    }
  }

  async #fetchToken(challenge: BearerChallenge, action: string): Promise<CachedToken> {
    const tokenAction = `get a token from ${challenge.realm} to ${action}`;
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.#credentials) {
      const { username, password } = this.#credentials;
      headers.authorization = basicAuthorization(username, password).reveal();
    }
    let response: Response;
    try {
      response = await this.#fetch(tokenRequestUrl(challenge), {
        method: "GET",
        headers,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      throw this.#networkError(error, tokenAction);
    }
    await this.#ensureOk(response, tokenAction);
    const token = parseTokenResponse(await this.#json(response, tokenAction), this.#now());
    if (token === undefined) {
      throw new RegistryError({
        message: this.#message(`could not ${tokenAction}: the answer holds no token`),
        registry: this.url,
        status: response.status,
        hint: "the realm in the registry's WWW-Authenticate header must be a Docker token service",
      });
    }
    return token;
  }

  async #ensureOk(response: Response, action: string): Promise<void> {
    if (response.ok) return;
    const errors = parseErrorBody(await response.text().catch(() => ""));
    const failure = describeHttpFailure({
      action,
      status: response.status,
      errors,
      ...this.#username(),
    });
    throw new RegistryError({
      message: this.#message(failure.reason),
      registry: this.url,
      status: response.status,
      hint: failure.hint,
      ...(errors[0] ? { code: errors[0].code } : {}),
    });
  }

  async #json(response: Response, action: string): Promise<unknown> {
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch {
      throw new RegistryError({
        message: this.#message(`could not ${action}: the answer is not JSON`),
        registry: this.url,
        status: response.status,
        hint: "check that the URL points at a registry and not at a web server or proxy page",
      });
    }
  }

  #networkError(error: unknown, action: string): RegistryError {
    const failure = describeNetworkError(error, this.#timeoutMs);
    return new RegistryError({
      message: this.#message(`could not ${action}: ${failure.reason}`),
      registry: this.url,
      hint: failure.hint,
      cause: error,
    });
  }

  #username(): { username?: string } {
    return this.#credentials ? { username: this.#credentials.username } : {};
  }

  /**
   * `registry URL: reason`, with anything secret cut out: a registry or a
   * proxy may echo a header back in its error text.
   */
  #message(reason: string): string {
    let text = `registry ${this.url}: ${reason}`;
    const secrets: string[] = [];
    if (this.#credentials) {
      const { username, password } = this.#credentials;
      secrets.push(password.reveal(), basicAuthorization(username, password).reveal().slice(6));
    }
    for (const { token } of this.#tokens.values()) secrets.push(token.reveal());
    for (const secret of secrets) {
      if (secret) text = text.split(secret).join("[redacted]");
    }
    return text;
  }
}

/** The registry URL without credentials or a trailing slash; throws for anything but http(s). */
export function normaliseRegistryUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ValidationError(
      `${JSON.stringify(raw)} is not a registry URL`,
      "use the registry's base URL, e.g. http://127.0.0.1:5000",
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ValidationError(
      `registry URL ${url.protocol}//${url.host} must use http or https`,
      "use the registry's base URL, e.g. http://127.0.0.1:5000",
    );
  }
  if (url.username || url.password) {
    url.username = "";
    url.password = "";
    throw new ValidationError(
      `registry URL ${url.origin} carries credentials`,
      "remove them from the URL and set SKIFF_REGISTRY_USERNAME and SKIFF_REGISTRY_PASSWORD instead",
    );
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

function stringList(body: unknown, field: string): string[] {
  if (typeof body !== "object" || body === null) return [];
  const list = (body as Record<string, unknown>)[field];
  // Distribution answers `"tags": null` for a repository whose tags were all deleted.
  return Array.isArray(list) ? list.filter((item): item is string => typeof item === "string") : [];
}

/** Frees the connection of a response whose body nobody reads. */
async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => {});
}
