import type { FastifyInstance } from "fastify";
import type { HttpDependencies } from "../http.js";

export function registerAppRoutes(app: FastifyInstance, deps: HttpDependencies): void {
  app.get("/api/v1/apps", async () => ({ apps: await deps.apps.list() }));

  app.post<{ Body: { name?: unknown } | undefined }>("/api/v1/apps", async (request, reply) => {
    const created = deps.apps.create(request.body?.name);
    reply.code(201);
    return { app: created };
  });

  app.get<{ Params: { name: string } }>("/api/v1/apps/:name", async (request) => ({
    app: await deps.apps.info(request.params.name),
  }));

  app.patch<{ Params: { name: string }; Body: unknown }>("/api/v1/apps/:name", async (request) => ({
    app: deps.apps.set(request.params.name, request.body),
  }));

  app.get<{ Params: { name: string } }>("/api/v1/apps/:name/webhook", async (request) => ({
    webhook: deps.apps.webhook(request.params.name),
  }));

  app.delete<{ Params: { name: string }; Querystring: { confirm?: string } }>(
    "/api/v1/apps/:name",
    async (request) => ({
      destroyed: await deps.apps.destroy(request.params.name, request.query.confirm),
    }),
  );
}
