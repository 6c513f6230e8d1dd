import { setTimeout as sleep } from "node:timers/promises";
import type { Plan } from "../spec/index.js";
import type { Replica } from "./engine.js";
import { probeHttp } from "./http-probe.js";

/** One check may take this long; a slower answer counts as a failure. */
const PROBE_TIMEOUT_MS = 2_000;

/**
 * Docker watches a replica's own healthcheck; a service checked over HTTP
 * has none, so the reconciler asks here. Every running replica of such a
 * service is checked; one that fails is checked again every `intervalMs`,
 * and counts as unhealthy only when `retries` checks in a row failed (one
 * slow answer replaces nothing). All within one call, so a verdict does not
 * depend on how often the reconciler runs.
 */
export async function httpUnhealthy(
  plan: Plan,
  replicas: readonly Replica[],
): Promise<Set<string>> {
  const verdicts = await Promise.all(
    replicas.map(async (replica) => {
      const health = plan.services.find((s) => s.name === replica.service)?.health;
      const { address } = replica;
      if (health?.type !== "http" || replica.state !== "running" || !address) return undefined;
      for (let attempt = 1; ; attempt++) {
        const result = await probeHttp({
          address,
          path: health.path,
          ...(health.host ? { host: health.host } : {}),
          timeoutMs: PROBE_TIMEOUT_MS,
        });
        if (result.ok) return undefined;
        if (attempt >= Math.max(1, health.retries)) return replica.id;
        await sleep(health.intervalMs);
      }
    }),
  );
  return new Set(verdicts.filter((id): id is string => id !== undefined));
}
