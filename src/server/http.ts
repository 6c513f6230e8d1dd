import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { AppService } from "../apps/app-service.js";
import { SkiffError } from "../errors.js";
import { RegistryError } from "../registry/errors.js";
import type { StatusReport } from "../runtime/status.js";
import type { Store } from "../state/store.js";
import { bearerToken, isValidToken } from "./admin-token.js";
import { registerAppRoutes } from "./api/apps.js";
import { registerEventRoutes } from "./api/events.js";
import { registerStatusRoutes } from "./api/status.js";

/** What the HTTP layer needs; built by the server and by tests. */
export interface HttpDependencies {
  store: Store;
  apps: AppService;
  status: () => Promise<StatusReport>;
  logger?: FastifyServerOptions["logger"];
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** Marks a route that answers without a token (only the liveness probe). */
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
    if (!request.url.startsWith("/api/")) return;
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
  return app;
}
