import { ValidationError } from "../errors.js";

/**
 * The Distribution API requests Skiff sends, as plain data. Builders here are
 * pure, so tests compare them by exact equality; `RegistryClient` sends them
 * and adds authentication. References: the Docker Registry HTTP API v2
 * (distribution/distribution docs/spec/api.md) and the OCI distribution-spec.
 */
export interface RegistryRequest {
  method: "GET" | "HEAD" | "DELETE" | "PUT";
  /** Path and query on the registry, always starting with `/v2/`. */
  path: string;
  headers: Record<string, string>;
  /** The body of a PUT, sent byte for byte (a manifest's digest is over its exact bytes). */
  body?: Uint8Array<ArrayBuffer>;
  /**
   * The token scope the request needs (docs/spec/auth/scope.md), so a cached
   * bearer token can be sent up front. Absent for /v2/, which needs none.
   */
  scope?: string;
}

/**
 * Every manifest type Skiff understands. Distribution 2.8 answers a manifest
 * HEAD/GET without an Accept header by converting to schema 1 and returns that
 * (different) digest, so every manifest request lists these.
 */
export const MANIFEST_MEDIA_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
] as const;

const MANIFEST_ACCEPT = MANIFEST_MEDIA_TYPES.join(", ");

// Grammar from distribution/reference (reference.go): path components of
// lower-case alphanumerics joined by `.`, `_`, `__` or runs of `-`, separated by `/`.
const NAME_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const REPOSITORY_NAME = new RegExp(`^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`);
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

/** Throws a ValidationError unless `name` is a valid repository name (e.g. `shop/web`). */
export function assertRepositoryName(name: string): void {
  if (name.length > 255 || !REPOSITORY_NAME.test(name)) {
    throw new ValidationError(
      `${JSON.stringify(name)} is not a valid registry repository name`,
      "use lower-case letters, digits and separators (. _ -) in components joined by /, e.g. shop/web",
    );
  }
}

/** Whether `reference` is a content digest (`sha256:<hex>`) rather than a tag. */
export function isDigest(reference: string): boolean {
  return DIGEST.test(reference);
}

function assertReference(reference: string): void {
  if (!TAG.test(reference) && !isDigest(reference)) {
    throw new ValidationError(
      `${JSON.stringify(reference)} is neither a tag nor a digest`,
      "a tag is up to 128 letters, digits, _ . - (not starting with . or -); a digest looks like sha256:<64 hex>",
    );
  }
}

function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

/** GET /v2/: the API version check every client starts with. */
export function pingRequest(): RegistryRequest {
  return { method: "GET", path: "/v2/", headers: {} };
}

/** GET /v2/_catalog, first page; later pages come from the Link header. */
export function catalogRequest(pageSize?: number): RegistryRequest {
  return {
    method: "GET",
    path: pageSize === undefined ? "/v2/_catalog" : `/v2/_catalog?n=${pageSize}`,
    headers: { accept: "application/json" },
    scope: "registry:catalog:*",
  };
}

/** GET /v2/<name>/tags/list, first page. */
export function tagsRequest(repository: string, pageSize?: number): RegistryRequest {
  assertRepositoryName(repository);
  const query = pageSize === undefined ? "" : `?n=${pageSize}`;
  return {
    method: "GET",
    path: `/v2/${repository}/tags/list${query}`,
    headers: { accept: "application/json" },
    scope: pullScope(repository),
  };
}

/** HEAD /v2/<name>/manifests/<reference> with the v2/OCI Accept list, for its Docker-Content-Digest. */
export function manifestHeadRequest(repository: string, reference: string): RegistryRequest {
  assertRepositoryName(repository);
  assertReference(reference);
  return {
    method: "HEAD",
    path: `/v2/${repository}/manifests/${reference}`,
    headers: { accept: MANIFEST_ACCEPT },
    scope: pullScope(repository),
  };
}

/** GET of the same manifest, for registries that leave Docker-Content-Digest off a HEAD. */
export function manifestGetRequest(repository: string, reference: string): RegistryRequest {
  return { ...manifestHeadRequest(repository, reference), method: "GET" };
}

/**
 * PUT /v2/<name>/manifests/<tag> with a manifest's exact bytes and its media
 * type: a new tag for an image already in the repository, with no layer moved.
 */
export function manifestPutRequest(
  repository: string,
  tag: string,
  manifest: { mediaType: string; bytes: Uint8Array<ArrayBuffer> },
): RegistryRequest {
  assertRepositoryName(repository);
  assertReference(tag);
  return {
    method: "PUT",
    path: `/v2/${repository}/manifests/${tag}`,
    headers: { "content-type": manifest.mediaType },
    body: manifest.bytes,
    scope: `repository:${repository}:pull,push`,
  };
}

/**
 * DELETE /v2/<name>/manifests/<digest>. Only digests: Distribution 2.8 answers
 * a tag with 400 DIGEST_INVALID and newer versions with 405 UNSUPPORTED, which
 * would read like "deletes disabled".
 */
export function manifestDeleteRequest(repository: string, digest: string): RegistryRequest {
  assertRepositoryName(repository);
  if (!isDigest(digest)) {
    throw new ValidationError(
      `cannot delete ${repository}:${digest}: manifests are deleted by digest, not by tag`,
      "look the digest up first (RegistryClient.manifestDigest) and delete that",
    );
  }
  return {
    method: "DELETE",
    path: `/v2/${repository}/manifests/${digest}`,
    headers: {},
    scope: `repository:${repository}:delete`,
  };
}

/**
 * The request for the page a Link header points at. Only its path and query
 * are kept: Distribution sends a relative URL, and a next page on another
 * host must not receive this registry's credentials.
 */
export function nextPageRequest(previous: RegistryRequest, link: string): RegistryRequest {
  const url = new URL(link, "http://registry.invalid");
  return { ...previous, path: `${url.pathname}${url.search}` };
}

/**
 * The target of the `rel="next"` entry of an RFC 8288 Link header, as
 * Distribution paginates `_catalog` and `tags/list`:
 * `</v2/_catalog?last=b&n=2>; rel="next"`. Undefined when there is none.
 */
export function parseLinkNext(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  for (const match of header.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+)*)/g)) {
    const params = match[2] ?? "";
    for (const param of params.split(";")) {
      const [key, rawValue] = param.split("=", 2);
      if (key?.trim().toLowerCase() !== "rel" || rawValue === undefined) continue;
      const relations = rawValue.trim().replace(/^"|"$/g, "").toLowerCase().split(/\s+/);
      if (relations.includes("next")) return match[1];
    }
  }
  return undefined;
}
