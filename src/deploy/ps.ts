import type { Edge } from "../edge/edge.js";
import { edgeHealthOf } from "./edge-health.js";
import type { Engine, Replica, ReplicaDetails } from "./engine.js";

/** A replica as `skiff ps` shows it. */
export type ProcessInfo = Replica & ReplicaDetails;

/**
 * The app's replicas as the engine reports them, with restarts and start
 * times. A replica without a healthcheck of its own shows the edge's check
 * of it; an old replica still running out its grace period is "stopping".
 */
export async function listProcesses(input: {
  engine: Engine;
  edge: Edge;
  app: string;
  /** Whether a replica is being retired in the background. */
  retiring: (id: string) => boolean;
}): Promise<ProcessInfo[]> {
  const { engine, app } = input;
  const replicas = await engine.list(app);
  const edgeHealth = await edgeHealthOf(input.edge, app, replicas);
  return Promise.all(
    replicas.map(async (r): Promise<ProcessInfo> => {
      const details = await engine.details(r);
      const health = r.health ?? edgeHealth.get(r.id);
      return {
        ...r,
        ...(input.retiring(r.id) && r.state === "running" ? { state: "stopping" } : {}),
        ...(health ? { health } : {}),
        ...details,
      };
    }),
  );
}
