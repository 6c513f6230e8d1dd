import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { AppService } from "../apps/app-service.js";
import { SkiffError } from "../errors.js";
import type { Pipeline } from "../pipeline/pipeline.js";
import { RegistryError } from "../registry/errors.js";
import type { StatusReport } from "../runtime/status.js";
import type { RunStore } from "../state/runs.js";
import type { Store } from "../state/store.js";
import { bearerToken, isValidToken } from "./admin-token.js";
import { registerAppRoutes } from "./api/apps.js";
import { type BaseRoutesDependencies, registerBaseRoutes } from "./api/bases.js";
import { registerDeployRoutes } from "./api/deploy.js";
import { registerEventRoutes } from "./api/events.js";
import { type DeployEngine, registerProcessRoutes } from "./api/processes.js";
import { registerReleaseRoutes } from "./api/releases.js";
import { registerRunRoutes } from "./api/runs.js";
import { registerStatusRoutes } from "./api/status.js";
import { registerDashboardRoutes } from "./dashboard.js";
import { registerGitRoutes } from "./git/http-backend.js";
import { type PreReceiveRouteOptions, registerPreReceiveRoute } from "./git/pre-receive-hook.js";
import { registerWebhookRoutes } from "./hooks/routes.js";

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
    onRefused?: PreReceiveRouteOptions["onRefused"];
  };
  logger?: FastifyServerOptions["logger"];
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** Marks a route that answers without a token (the liveness probe, the dashboard's files). */
    public?: boolean;
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
    logger: deps.logger ?? false,
    // Request ids let a user quote a 500 and find its stack in the server log.
    genReqId: () => Math.random().toString(36).slice(2, 10),
  });

  const routes: RegisteredRoute[] = [];
  routeTables.set(app, routes);
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) {
      if (method !== "HEAD")
        routes.push({ method, url: route.url, public: route.config?.public === true });
    }
  });

  app.addHook("onRequest", async (request, reply) => {
    if (!isApiRequest(request.routeOptions.url, request.url)) return;
    if (request.routeOptions.config?.public) return;
    if (!isValidToken(deps.store, bearerToken(request.headers.authorization))) {
      reply
        .code(401)
        .header("www-authenticate", 'Bearer realm="skiff"')
        .send({
          error: {
            code: "unauthorized",
            message: request.headers.authorization
              ? "the bearer token is not valid"
              : "this API needs a bearer token",
            hint: "send Authorization: Bearer <token>; the admin token is in $SKIFF_HOME/admin-token",
          },
        } satisfies ErrorBody);
    }
  });

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof SkiffError) {
      reply.code(error.status).send({
        error: {
          code: error.code,
          message: error.message,
          ...(error.hint ? { hint: error.hint } : {}),
        },
      } satisfies ErrorBody);
      return;
    }
    if (error instanceof RegistryError) {
      // The registry's own status (401, 405, ...) is not ours: to the API
      // client, a failing registry is a failing dependency.
      reply.code(502).send({
        error: { code: "registry_failed", message: error.message, hint: error.hint },
      } satisfies ErrorBody);
      return;
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      // Fastify's own client errors: malformed JSON, a body too large, ...
      reply.code(status).send({
        error: { code: "bad_request", message: (error as Error).message },
      } satisfies ErrorBody);
      return;
    }
    request.log.error({ err: error }, "unhandled error");
    reply.code(500).send({
      error: {
        code: "internal",
        message: "Skiff hit an unexpected error",
        hint: `the server log has the details under request id ${request.id}`,
        requestId: request.id,
      },
    } satisfies ErrorBody);
  });

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      error: {
        code: "not_found",
        message: `no such endpoint: ${request.method} ${request.url.split("?")[0]}`,
        hint: "the API lives under /api/v1; see the README for its routes",
      },
    } satisfies ErrorBody);
  });

  app.get("/api/v1/healthz", { config: { public: true } }, async () => ({ ok: true }));
  registerStatusRoutes(app, deps);
  registerAppRoutes(app, deps);
  registerEventRoutes(app, deps);
  registerRunRoutes(app, deps);
  registerReleaseRoutes(app, {
    store: deps.store,
    runs: deps.runs,
    pipeline: deps.pipeline,
    ...(deps.deploy ? { deployments: deps.deploy.deployments } : {}),
  });
  registerProcessRoutes(app, {
    store: deps.store,
    runs: deps.runs,
    ...(deps.deploy ? { engine: deps.deploy } : {}),
  });
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
    authenticate: (password) => isValidToken(deps.store, password),
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
