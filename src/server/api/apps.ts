import type { FastifyInstance } from "fastify";
import type { AppService, AppView } from "../../apps/app-service.js";
import { maskUrlCredentials } from "../../url-credentials.js";

export interface AppRoutesDependencies {
  apps: Pick<AppService, "list" | "create" | "info" | "set" | "webhook" | "destroy">;
}

/**
 * An app as every answer shows it: credentials in its repository URL
 * (`https://user:token@host/…`) masked. The clear URL stays in the database,
 * where `git fetch` needs it; no answer returns it.
 */
export function maskedApp(app: AppView): AppView {
  return app.repoUrl ? { ...app, repoUrl: maskUrlCredentials(app.repoUrl) } : app;
}

export function registerAppRoutes(app: FastifyInstance, deps: AppRoutesDependencies): void {
  app.get("/api/v1/apps", async () => ({ apps: (await deps.apps.list()).map(maskedApp) }));

  app.post<{ Body: { name?: unknown } | undefined }>("/api/v1/apps", async (request, reply) => {
    const created = deps.apps.create(request.body?.name);
    reply.code(201);
    return { app: maskedApp(created) };
  });

  app.get<{ Params: { name: string } }>("/api/v1/apps/:name", async (request) => ({
    app: maskedApp(await deps.apps.info(request.params.name)),
  }));

  app.patch<{ Params: { name: string }; Body: unknown }>("/api/v1/apps/:name", async (request) => ({
    app: maskedApp(
      deps.apps.set(request.params.name, request.body, {
        localRepositories: request.principal?.app === undefined,
      }),
    ),
  }));

  // The URLs and whether a secret exists; never the secret.
  app.get<{ Params: { name: string } }>("/api/v1/apps/:name/webhook", async (request) => ({
    webhook: deps.apps.webhook(request.params.name),
  }));

  // The secret in clear, created on first use: a POST, so no cache, proxy
  // or browser history keeps it, and asking for it is a deliberate act.
  // Every token is an admin token today; when tokens get scopes, this
  // route needs the admin scope.
  app.post<{ Params: { name: string } }>(
    "/api/v1/apps/:name/webhook/reveal",
    async (request, reply) => {
      reply.header("cache-control", "no-store");
      return { webhook: deps.apps.webhook(request.params.name, { reveal: true }) };
    },
  );

  app.delete<{ Params: { name: string }; Querystring: { confirm?: string } }>(
    "/api/v1/apps/:name",
    async (request) => ({
      destroyed: await deps.apps.destroy(request.params.name, request.query.confirm),
    }),
  );
}
