import type { Plan } from "../spec/index.js";
import { probeHttp } from "./health.js";
import type { Replica } from "./replicas.js";

/** One check may take this long; a slower answer counts as a failure. */
const PROBE_TIMEOUT_MS = 2_000;

/**
 * Docker watches a replica's own healthcheck; a service checked over HTTP
 * has none, so the reconciler asks here. Each pass probes every running
 * replica of such a service once and counts consecutive failures; a replica
 * is unhealthy once the count reaches the service's `retries` (so one slow
 * answer replaces nothing). Counts live in memory: after a control-plane
 * restart a replica starts again from zero.
 */
export class HttpHealthWatch {
  private readonly failures = new Map<string, number>();

  /** The ids of the replicas that failed `retries` checks in a row. */
  async unhealthy(plan: Plan, replicas: readonly Replica[]): Promise<Set<string>> {
    const checked = new Set<string>();
    const verdicts = await Promise.all(
      replicas.map(async (replica) => {
        const service = plan.services.find((s) => s.name === replica.service);
        const health = service?.health;
        if (health?.type !== "http" || replica.state !== "running" || !replica.hostPort) {
          return undefined;
        }
        checked.add(replica.id);
        const result = await probeHttp({
          port: replica.hostPort,
          path: health.path,
          ...(health.host ? { host: health.host } : {}),
          timeoutMs: PROBE_TIMEOUT_MS,
        });
        const count = result.ok ? 0 : (this.failures.get(replica.id) ?? 0) + 1;
        this.failures.set(replica.id, count);
        return count >= Math.max(1, health.retries) ? replica.id : undefined;
      }),
    );
    for (const id of this.failures.keys()) if (!checked.has(id)) this.failures.delete(id);
    return new Set(verdicts.filter((id): id is string => id !== undefined));
  }
}
