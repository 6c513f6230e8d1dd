import { backendName } from "../edge/domain-map.js";
import type { Edge } from "../edge/edge.js";
import { DependencyError, NotFoundError } from "../errors.js";
import { edgeServerName, type Replica } from "./engine.js";

/**
 * Health of replicas without a healthcheck of their own, as the edge's
 * check sees them right now (a check a second): web replicas are checked
 * over HTTP there. Replicas the edge does not have give no entry.
 */
export async function edgeHealthOf(
  edge: Edge,
  app: string,
  replicas: readonly Replica[],
): Promise<Map<string, "healthy" | "unhealthy">> {
  const health = new Map<string, "healthy" | "unhealthy">();
  const services = new Set(replicas.filter((r) => !r.health).map((r) => r.service));
  for (const service of services) {
    const status = await edge.serverStatus(backendName(app, service)).catch((error: unknown) => {
      // A service the edge does not route (a worker) has no backend there;
      // an edge that is down or restarting (its runtime API refuses or times
      // out: a DependencyError) shows no health: ps still answers, and the
      // reconciler checks those replicas over HTTP itself.
      if (error instanceof NotFoundError || error instanceof DependencyError) return undefined;
      throw error;
    });
    if (!status) continue;
    for (const replica of replicas.filter((r) => r.service === service && !r.health)) {
      const server = status.get(edgeServerName(replica));
      if (server) health.set(replica.id, server.up ? "healthy" : "unhealthy");
    }
  }
  return health;
}
