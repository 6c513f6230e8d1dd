/**
 * The build request as plain data, and the pure helpers that read BuildKit's
 * answers. `buildImage` sends what `toBuildQuery` returns, unchanged.
 * Engine API 1.41, `POST /build` (docs.docker.com/engine/api/v1.41/#operation/ImageBuild).
 */

/** What to build. Only spec values go here: config values and secrets never become build args. */
export interface BuildRequest {
  /** Directory sent as the build context. */
  contextDir: string;
  /** Relative to `contextDir`. Default `Dockerfile`. */
  dockerfile?: string;
  /** The stage to build (`build.target`). */
  target?: string;
  /** `build.args` from the spec. */
  args?: Record<string, string>;
  /** Every reference the image gets, e.g. `127.0.0.1:5000/shop/web:r7`. At least one. */
  tags: string[];
  /**
   * Images whose inline cache BuildKit may reuse (the previous release's
   * image in the registry). BuildKit reads only their config from the
   * registry, and pulls a layer only when a step is a cache hit.
   */
  cacheFrom?: string[];
  /** Labels the image gets. */
  labels?: Record<string, string>;
  /** Aborting it aborts the HTTP request, which cancels the build in the daemon. */
  signal?: AbortSignal;
}

/** Query parameters of `POST /build`; values are what goes on the wire. */
export type BuildQuery = Record<string, string | string[]>;

/**
 * Build arg that makes BuildKit write cache metadata into the image config,
 * so that a later build anywhere can use the pushed image with `cachefrom`.
 * A builder can only reuse steps of an image built with it.
 */
export const INLINE_CACHE_ARG = "BUILDKIT_INLINE_CACHE";

/**
 * The query of `POST /build` for `request`: BuildKit (`version=2`), every
 * tag, inline cache always on, `cachefrom` as a JSON array. `buildargs` and
 * `labels` are JSON objects, as the Engine API wants them.
 */
export function toBuildQuery(request: BuildRequest): BuildQuery {
  const query: BuildQuery = {
    version: "2",
    t: [...request.tags],
    dockerfile: request.dockerfile ?? "Dockerfile",
    buildargs: JSON.stringify({ ...request.args, [INLINE_CACHE_ARG]: "1" }),
  };
  if (request.target) query.target = request.target;
  if (request.cacheFrom && request.cacheFrom.length > 0) {
    query.cachefrom = JSON.stringify(request.cacheFrom);
  }
  if (request.labels && Object.keys(request.labels).length > 0) {
    query.labels = JSON.stringify(request.labels);
  }
  return query;
}

/**
 * The exit code in a failed RUN step's error. Docker 20.10 (BuildKit 0.8)
 * says `executor failed running [/bin/sh -c false]: exit code: 1`; newer
 * BuildKit says `process "/bin/sh -c false" did not complete successfully: exit code: 1`.
 */
export function parseExitCode(message: string): number | undefined {
  const match = /exit code: (\d+)/.exec(message);
  return match ? Number(match[1]) : undefined;
}

/**
 * Whether a vertex is BuildKit's own work rather than a Dockerfile
 * instruction. Instructions are named `[2/4] RUN npm ci` or, in a multi-stage
 * build, `[builder 2/4] RUN npm ci`; everything else (`[internal] load build
 * definition`, `[internal] load metadata for ...`, `copy /context /`,
 * `importing cache manifest from ...`, `exporting to image`) is internal.
 */
export function isInternalVertex(name: string): boolean {
  return !/^\[(?:[^\]\s]+ )?\d+\/\d+\] /.test(name);
}
