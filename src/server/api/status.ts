import type { FastifyInstance } from "fastify";
import type { StatusReport } from "../../runtime/status.js";

export interface StatusRoutesDependencies {
  /** Collects the report afresh for each request (`skiff status`). */
  status: () => Promise<StatusReport>;
}

export function registerStatusRoutes(app: FastifyInstance, deps: StatusRoutesDependencies): void {
  app.get("/api/v1/status", async () => deps.status());
}
