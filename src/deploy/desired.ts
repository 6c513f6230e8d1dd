// What must change for an app to run its plan: which replicas stay, which
// places get a new replica, which replicas go. Pure, so the deploy and the
// reconciler decide the same way and a table test covers every case.

import type { Plan, PlanService } from "../spec/index.js";
import { isServing, type Replica } from "./engine.js";

/** One service's part of the decision. */
export interface ServiceDecision {
  service: PlanService;
  /** Replicas that run as the plan has them and serve: they stay as they are. */
  keep: Replica[];
  /** Places (replica numbers) that get a new replica, ascending. */
  start: number[];
  /** This service's replicas that go: another image or settings, not serving, or more than wanted. */
  retire: Replica[];
}

/** The whole decision for one app. */
export interface Decision {
  /** In the plan's order (dependencies first). */
  services: ServiceDecision[];
  /** Replicas of services the plan does not have. */
  strays: Replica[];
}

export interface DesiredInput {
  plan: Plan;
  /** serviceFingerprint per service of the release to run. */
  fingerprints: Readonly<Record<string, string>>;
  /** Replica counts set by `skiff scale`, over the plan's. */
  scale: Readonly<Record<string, number>>;
  /** The app's replicas now, oldest first (those being retired already left out). */
  current: readonly Replica[];
  /**
   * A restart: these services' replicas are all replaced, even those that
   * run as the plan has them, and every other service is left as it is.
   */
  restart?: readonly string[];
}

/** How many replicas a service should run: its scale override, else the plan's count. */
export function wantedReplicas(
  service: PlanService,
  scale: Readonly<Record<string, number>>,
): number {
  return scale[service.name] ?? service.replicas;
}

/**
 * Decides, per service, what stays, what starts and what goes.
 *
 * A replica runs as the plan has it when it carries the service's
 * fingerprint (same image, settings and files) and is on the app's network.
 * Of those that serve, the oldest stay, up to the wanted count; every other
 * replica of the service goes, and the free places up to the count get a
 * new one. A changed service therefore starts all its replicas afresh, and
 * an unchanged one keeps its replicas and only fills the gaps.
 */
export function desiredState(input: DesiredInput): Decision {
  const { plan, fingerprints, scale, current } = input;
  const services = plan.services.map((service): ServiceDecision => {
    const own = current.filter((r) => r.service === service.name);
    const fingerprint = fingerprints[service.name];
    if (input.restart && !input.restart.includes(service.name)) {
      return { service, keep: own, start: [], retire: [] };
    }
    const replaced = input.restart !== undefined;
    const runsAsPlanned = (r: Replica) =>
      !replaced && fingerprint !== undefined && r.fingerprint === fingerprint && r.onAppNetwork;
    const want = wantedReplicas(service, scale);
    const keep = own.filter((r) => runsAsPlanned(r) && isServing(r)).slice(0, want);
    const taken = new Set(keep.map((r) => r.replica));
    const start: number[] = [];
    for (let place = 1; start.length < want - keep.length; place++) {
      if (!taken.has(place)) start.push(place);
    }
    return { service, keep, start, retire: own.filter((r) => !keep.includes(r)) };
  });
  const planned = new Set(plan.services.map((s) => s.name));
  return { services, strays: current.filter((r) => !planned.has(r.service)) };
}

/** Whether the decision changes nothing: every service keeps what it has. */
export function isSteady(decision: Decision): boolean {
  return (
    decision.strays.length === 0 &&
    decision.services.every((s) => s.start.length === 0 && s.retire.length === 0)
  );
}

/**
 * The services in groups that may roll out at the same time: each group
 * after every group holding a service it depends on, in the plan's order
 * within a group. (The plan already orders services dependencies first, and
 * the spec refuses cycles.)
 */
export function dependencyLevels(services: readonly PlanService[]): PlanService[][] {
  const level = new Map<string, number>();
  const levels: PlanService[][] = [];
  for (const service of services) {
    const after = service.dependsOn
      .map((d) => level.get(d.service))
      .filter((l): l is number => l !== undefined);
    const mine = after.length === 0 ? 0 : Math.max(...after) + 1;
    level.set(service.name, mine);
    const group = levels[mine] ?? [];
    group.push(service);
    levels[mine] = group;
  }
  return levels;
}
