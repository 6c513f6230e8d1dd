import type { FastifyInstance } from "fastify";
import type { HttpDependencies } from "../http.js";

export function registerStatusRoutes(app: FastifyInstance, deps: HttpDependencies): void {
  app.get("/api/v1/status", async () => deps.status());
}
