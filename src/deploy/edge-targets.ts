import { backendName } from "../edge/domain-map.js";
import type { EdgeAppState, EdgeBackendSpec } from "../edge/edge-state.js";
import type { Plan, PlanService } from "../spec/index.js";
import { edgeServerName, type Replica } from "./engine.js";

/**
 * What the edge should send one app's traffic to: a backend per service
 * with routes, holding the replicas given (those that serve), and each
 * route's domain mapped to its backend. Pure, so tests compare by equality.
 *
 * Every replica given passed Skiff's own health check (a new one just did,
 * a kept one serves), so the edge admits it at once (`checked`), except
 * those in `unchecked`: old replicas a rollback started again, which the
 * edge's own check must pass first.
 */
export function toEdgeAppState(
  plan: Plan,
  serving: readonly Replica[],
  unchecked: ReadonlySet<string> = new Set(),
): EdgeAppState {
  const backends: EdgeBackendSpec[] = [];
  const domains: Record<string, string> = {};
  for (const service of plan.services) {
    if (service.routes.length === 0) continue;
    const name = backendName(plan.app, service.name);
    backends.push({
      name,
      ...edgeHealthCheck(service),
      servers: serving
        .flatMap((r) =>
          r.service === service.name && r.address ? [{ ...r, address: r.address }] : [],
        )
        .sort((a, b) => a.release - b.release || a.replica - b.replica)
        .map((r) => ({
          name: edgeServerName(r),
          address: r.address,
          ...(unchecked.has(r.id) ? {} : { checked: true }),
        })),
    });
    for (const route of service.routes) domains[route.domain] = name;
  }
  return { backends, domains };
}

/**
 * The edge checks a replica the way the deploy did: the HTTP path and Host
 * of the service's HTTP check; for a service checked otherwise, `/` with
 * its first domain, which any web server answers with something (HAProxy
 * counts 2xx and 3xx as up).
 */
function edgeHealthCheck(service: PlanService): Pick<EdgeBackendSpec, "healthPath" | "healthHost"> {
  if (service.health.type === "http") {
    return {
      healthPath: service.health.path,
      ...(service.health.host ? { healthHost: service.health.host } : {}),
    };
  }
  const host = service.routes[0]?.domain;
  return { healthPath: "/", ...(host ? { healthHost: host } : {}) };
}
