import Fastify, {
  type FastifyInstance,
  type FastifyRequest,
  type FastifyServerOptions,
} from "fastify";
import type { AppService } from "../apps/app-service.js";
import { SkiffError } from "../errors.js";
import type { Pipeline } from "../pipeline/pipeline.js";
import { RegistryError } from "../registry/errors.js";
import type { StatusReport } from "../runtime/status.js";
import { NO_SECRETS, type SecretScrubber, scrubStrings } from "../secrets/scrubber.js";
import type { ConfigStore } from "../state/app-config.js";
import type { RunStore } from "../state/runs.js";
import type { Store } from "../state/store.js";
import type { Principal, TokenStore } from "../state/tokens.js";
import type { UploadSourceStore } from "../state/upload-sources.js";
import { accessProblem, requiredScope } from "./access.js";
import { authenticate, bearerToken } from "./admin-token.js";
import { registerAppRoutes } from "./api/apps.js";
import { type BaseRoutesDependencies, registerBaseRoutes } from "./api/bases.js";
import { registerConfigRoutes } from "./api/config.js";
import { registerDeployRoutes } from "./api/deploy.js";
import { registerEventRoutes } from "./api/events.js";
import { type DeployEngine, registerProcessRoutes } from "./api/processes.js";
import { registerReleaseRoutes } from "./api/releases.js";
import { registerRunRoutes } from "./api/runs.js";
import { registerStatusRoutes } from "./api/status.js";
import { registerTokenRoutes } from "./api/tokens.js";
import { registerDashboardRoutes } from "./dashboard.js";
import { registerGitRoutes } from "./git/http-backend.js";
import { type PreReceiveRouteOptions, registerPreReceiveRoute } from "./git/pre-receive-hook.js";
import { registerWebhookRoutes } from "./hooks/routes.js";
import { closeIfBodyUnread, dropLingering, refuse } from "./unread-body.js";

/** What the HTTP layer needs; built by the server and by tests. */
export interface HttpDependencies {
  store: Store;
  apps: AppService;
  status: () => Promise<StatusReport>;
  runs: RunStore;
  pipeline: Pipeline;
  runsRoot: string;
  /** Scratch space for uploads and runs. */
  workRoot: string;
  bases: BaseRoutesDependencies;
  /** Named tokens (the admin token's hash is in `store`). */
  tokens: TokenStore;
  /** The apps' config vars, and where uploaded trees are kept (a config change starts from one). */
  config: ConfigStore;
  uploads: UploadSourceStore;
  /**
   * The deployer (the same instance the pipeline deploys with) and the
   * desired state, for releases, rollback, ps, scale and restart. Absent,
   * those routes answer 502 and no release is live.
   */
  deploy?: DeployEngine;
  git: {
    reposRoot: string;
    hookToken: string;
    /** The environment `git http-backend` gives the pre-receive hook. */
    hookEnv(app: string): Record<string, string>;
    onPush: PreReceiveRouteOptions["onPush"];
    /** Who is pushing to each app right now (one receive-pack per app at a time): a run's actor. */
    pushers: Map<string, string>;
    onRefused?: PreReceiveRouteOptions["onRefused"];
  };
  logger?: FastifyServerOptions["logger"];
  /**
   * What takes secrets out of an answer (secrets/scrubber.ts): `app`'s own
   * for a route of one app, every app's for a platform route.
   */
  secrets?: (app?: string) => SecretScrubber;
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** Marks a route that answers without a token (the liveness probe, the dashboard's files). */
    public?: boolean;
  }
  interface FastifyRequest {
    /** Who sent an API request: set once its token was checked (undefined on public routes). */
    principal?: Principal;
  }
}

/** The JSON body of every error answer. */
export interface ErrorBody {
  error: { code: string; message: string; hint?: string; requestId?: string };
}

/** One method + path the server answers. */
export interface RegisteredRoute {
  method: string;
  url: string;
  public: boolean;
}

/**
 * Whether a request is for the API and so needs a token. The matched route's
 * pattern decides, never the raw URL: the router decodes percent-escapes, so
 * `/%61pi/v1/status` reaches the `/api/v1/status` handler. A URL no route
 * matches is judged by its decoded path, so unknown API paths answer 401 too.
 */
export function isApiRequest(routePattern: string | undefined, rawUrl: string): boolean {
  if (routePattern !== undefined) return routePattern.startsWith("/api/");
  let path = rawUrl.split("?")[0] ?? "";
  try {
    path = decodeURIComponent(path);
  } catch {
    // A malformed escape: judge the raw text; the router will answer 400 or 404.
  }
  return path
    .replace(/\/{2,}/g, "/")
    .toLowerCase()
    .startsWith("/api/");
}

/**
 * A URL as the server log may show it: the path alone. A query string can
 * carry what must not reach a log (a token a client put there, a git
 * `?service=` the log has no use for), so none is ever logged.
 */
export function pathOnly(url: string): string {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

/**
 * The request fields of Fastify's "incoming request" log line. Its default
 * serializer logs `req.url`, query string included; this one does not.
 */
function requestLogFields(request: {
  method: string;
  url: string;
  hostname?: string;
  ip?: string;
}): Record<string, unknown> {
  return {
    method: request.method,
    url: pathOnly(request.url),
    ...(request.hostname ? { host: request.hostname } : {}),
    ...(request.ip ? { remoteAddress: request.ip } : {}),
  };
}

/** Fastify's logger option with Skiff's request serializer; `false` stays off. */
function loggerOptions(
  logger: FastifyServerOptions["logger"] | undefined,
): FastifyServerOptions["logger"] {
  if (!logger) return false;
  const base = logger === true ? {} : logger;
  return { ...base, serializers: { ...base.serializers, req: requestLogFields } };
}

function notFound(request: { method: string; url: string }): ErrorBody {
  return {
    error: {
      code: "not_found",
      message: `no such endpoint: ${request.method} ${pathOnly(request.url)}`,
      hint: "the API lives under /api/v1; see the README for its routes",
    },
  };
}

const routeTables = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/** Every route the server registered, in registration order (Fastify's own HEAD twins left out). */
export function registeredRoutes(app: FastifyInstance): readonly RegisteredRoute[] {
  return routeTables.get(app) ?? [];
}

/**
 * Builds the HTTP server: every /api/v1 route requires a bearer token unless
 * it is marked public, so a new route is protected by default.
 */
export function buildHttpServer(deps: HttpDependencies): FastifyInstance {
  const app = Fastify({
    logger: loggerOptions(deps.logger),
    // Request ids let a user quote a 500 and find its stack in the server log.
    genReqId: () => Math.random().toString(36).slice(2, 10),
  });

  app.decorateRequest("principal", undefined);

  /** What scrubs an answer to `request`: its app's secrets on a route of one app, else every app's. */
  const scrubberOf = (request: FastifyRequest): SecretScrubber => {
    if (!deps.secrets) return NO_SECRETS;
    const app = request.routeOptions.url?.startsWith("/api/v1/apps/:name")
      ? (request.params as { name?: string } | undefined)?.name
      : undefined;
    return deps.secrets(app);
  };
  // For the routes that stream or answer text, and scrub it themselves.
  const secrets = deps.secrets;
  const scrub = secrets ? (text: string, app: string) => secrets(app).scrub(text) : undefined;

  // Connections kept open after a refusal would hold up close() for seconds.
  app.addHook("preClose", async () => dropLingering(app.server));

  const routes: RegisteredRoute[] = [];
  routeTables.set(app, routes);
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) {
      if (method !== "HEAD")
        routes.push({ method, url: route.url, public: route.config?.public === true });
    }
  });

  app.addHook("onRequest", async (request, reply) => {
    const needsToken =
      isApiRequest(request.routeOptions.url, request.url) &&
      request.routeOptions.config?.public !== true;
    // onRequest runs before the body is parsed, so no body (an upload to
    // /apps/APP/deploy streams hundreds of MB) is read for a caller without
    // a valid token.
    const principal = needsToken
      ? authenticate(deps.store, deps.tokens, bearerToken(request.headers.authorization))
      : undefined;
    if (needsToken && !principal) {
      return refuse(
        request,
        reply,
        401,
        {
          error: {
            code: "unauthorized",
            message: request.headers.authorization
              ? "the bearer token is not valid (unknown, revoked or expired)"
              : "this API needs a bearer token",
            hint: "send Authorization: Bearer <token>; the admin token is in $SKIFF_HOME/admin-token, skiff tokens:create makes others",
          },
        } satisfies ErrorBody,
        { "www-authenticate": 'Bearer realm="skiff"' },
      );
    }
    if (principal) {
      const app = (request.params as { name?: string } | undefined)?.name;
      const problem = accessProblem(
        principal,
        requiredScope(request.method, request.routeOptions.url),
        request.routeOptions.url?.startsWith("/api/v1/apps/:name") ? app : undefined,
      );
      if (problem) {
        return refuse(request, reply, 403, {
          error: {
            code: "forbidden",
            message: problem,
            hint: "use a token whose scope and app allow this (skiff tokens lists them; an admin makes one with skiff tokens:create)",
          },
        } satisfies ErrorBody);
      }
      request.principal = principal;
    }
    // Fastify reads and parses the body of a request no route matches
    // before its not-found handler runs; answering here reads none.
    if (request.routeOptions.url === undefined)
      return refuse(request, reply, 404, notFound(request));
  });

  // Refusals that do not go through `refuse` (the git routes answer their
  // own) still close a connection whose body was not read, rather than let
  // Node drain what the client still sends. Every JSON answer is scrubbed of
  // secrets (a replica's health output in ps, an echoed name), except the
  // config routes, whose `reveal` is the one way to read a secret.
  app.addHook("onSend", async (request, reply, payload) => {
    if (reply.statusCode >= 400) closeIfBodyUnread(request, reply);
    if (
      typeof payload !== "string" ||
      !String(reply.getHeader("content-type") ?? "").startsWith("application/json") ||
      request.routeOptions.url?.startsWith("/api/v1/apps/:name/config")
    ) {
      return payload;
    }
    // No secret to take out (the common case): the answer is not parsed again.
    const scrubber = scrubberOf(request);
    if (scrubber.empty) return payload;
    return JSON.stringify(scrubStrings(JSON.parse(payload), (text) => scrubber.scrub(text)));
  });

  // Every error answer goes through `refuse`: one raised before the body was
  // read (a webhook or an upload for an unknown app, a body over the limit)
  // is answered without reading it.
  app.setErrorHandler((error, request, reply) => {
    if (error instanceof SkiffError) {
      const scrubber = scrubberOf(request);
      return refuse(request, reply, error.status, {
        error: {
          code: error.code,
          message: scrubber.scrub(error.message),
          ...(error.hint ? { hint: scrubber.scrub(error.hint) } : {}),
        },
      } satisfies ErrorBody);
    }
    if (error instanceof RegistryError) {
      // The registry's own status (401, 405, ...) is not ours: to the API
      // client, a failing registry is a failing dependency.
      return refuse(request, reply, 502, {
        error: { code: "registry_failed", message: error.message, hint: error.hint },
      } satisfies ErrorBody);
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      // Fastify's own client errors: malformed JSON, a body too large, ...
      return refuse(request, reply, status, {
        error: { code: "bad_request", message: (error as Error).message },
      } satisfies ErrorBody);
    }
    request.log.error({ err: error }, "unhandled error");
    return refuse(request, reply, 500, {
      error: {
        code: "internal",
        message: "Skiff hit an unexpected error",
        hint: `the server log has the details under request id ${request.id}`,
        requestId: request.id,
      },
    } satisfies ErrorBody);
  });

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(notFound(request));
  });

  app.get("/api/v1/healthz", { config: { public: true } }, async () => ({ ok: true }));
  registerStatusRoutes(app, { status: deps.status });
  registerAppRoutes(app, { apps: deps.apps });
  registerEventRoutes(app, { store: deps.store });
  registerRunRoutes(app, { ...deps, ...(scrub ? { scrub } : {}) });
  registerReleaseRoutes(app, {
    store: deps.store,
    runs: deps.runs,
    pipeline: deps.pipeline,
    ...(deps.deploy ? { deployments: deps.deploy.deployments } : {}),
  });
  registerProcessRoutes(app, {
    store: deps.store,
    runs: deps.runs,
    ...(scrub ? { scrub } : {}),

    ...(deps.deploy ? { engine: deps.deploy } : {}),
  });
  registerConfigRoutes(app, {
    store: deps.store,
    runs: deps.runs,
    config: deps.config,
    pipeline: deps.pipeline,
    uploads: deps.uploads,
    reposRoot: deps.git.reposRoot,
    ...(deps.deploy ? { deployments: deps.deploy.deployments } : {}),
  });
  registerTokenRoutes(app, { store: deps.store, tokens: deps.tokens });
  registerBaseRoutes(app, deps.bases);
  registerDeployRoutes(app, {
    store: deps.store,
    pipeline: deps.pipeline,
    workRoot: deps.workRoot,
  });
  // git authenticates with Basic (any user, the token as password); the hook
  // endpoint with the per-start hook token. Neither lives under /api.
  registerGitRoutes(app, {
    reposRoot: deps.git.reposRoot,
    authenticate: (password) => authenticate(deps.store, deps.tokens, password),
    pushers: deps.git.pushers,
    appExists: (name) => deps.store.getApp(name) !== undefined,
    hookEnv: deps.git.hookEnv,
  });
  registerPreReceiveRoute(app, {
    hookToken: deps.git.hookToken,
    onPush: deps.git.onPush,
    ...(deps.git.onRefused ? { onRefused: deps.git.onRefused } : {}),
  });
  registerWebhookRoutes(app, {
    store: deps.store,
    pipeline: deps.pipeline,
    reposRoot: deps.git.reposRoot,
  });
  // The dashboard's page and assets need no token: they hold no data, and
  // every call the page makes goes to /api/v1 with the token.
  registerDashboardRoutes(app);
  return app;
}
