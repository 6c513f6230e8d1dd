import type Docker from "dockerode";
import { backendName } from "../edge/domain-map.js";
import type { AdmittedListener, EdgeRouter } from "../edge/edge-router.js";
import type { Plan, PlanService } from "../spec/index.js";
import { toEdgeAppState } from "./edge-targets.js";
import {
  ensureAppResources,
  ReplicaFailure,
  retireReplica,
  startReplica,
} from "./replica-lifecycle.js";
import { isServing, type Replica } from "./replicas.js";

export interface RolloutInput {
  /** LABELS.instance of this installation. */
  instance: string;
  app: string;
  release: number;
  plan: Plan;
  /** The plan that is live now, if any: what the edge goes back to when the rollout fails. */
  previousPlan?: Plan;
  /** Per service, the image reference its replicas run. */
  images: Readonly<Record<string, string>>;
  /** Per service, the release's files (a tar archive) put into each new replica. */
  files?: Readonly<Record<string, Buffer>>;
  /** How many replicas each service gets. */
  replicas: (service: PlanService) => number;
  /** Every container of the app before the rollout. */
  current: readonly Replica[];
  /** Replace only these services (a restart); default all. */
  only?: readonly string[];
  /**
   * Services whose running replicas already run this release's image with
   * the same settings: they stay as they are, so a push that changes one
   * service replaces only that one.
   */
  keep?: readonly string[];
  log(text: string, service?: string): void;
  signal?: AbortSignal;
}

/**
 * Puts a release's replicas in place of the running ones, service by
 * service in dependency order (DESIGN.md, "Deploy on one host"):
 *
 *   start the new replicas → wait until each is healthy → add them to the
 *   edge (it waits for its own check) → drain and remove the old ones there
 *
 * Stateful and stop-first services stop their old replicas first, so two
 * never share a volume. All or nothing: if any new replica fails, every new
 * one is removed, stopped old ones start again and the edge goes back to
 * the old replicas, then the failure is rethrown. The old containers are
 * returned, not stopped: the caller records the release as live first, so
 * a crash between the two leaves a state the reconciler converges from.
 */
export async function rollOut(
  deps: { docker: Docker; edge: EdgeRouter },
  input: RolloutInput,
): Promise<{ retire: Replica[] }> {
  const { docker } = deps;
  const { app, plan, current, log } = input;
  const replaced = (service: string) =>
    (!input.only || input.only.includes(service)) && !input.keep?.includes(service);
  const before = new Map<string, Replica[]>();
  for (const s of new Set(current.map((r) => r.service))) {
    before.set(
      s,
      current.filter((r) => r.service === s && isServing(r)),
    );
  }
  const serving = new Map(before);
  const routed = plan.services.some((s) => s.routes.length > 0);
  const applyEdge = async (targetPlan: Plan, onAdmitted?: AdmittedListener) => {
    await deps.edge.setApp(
      app,
      toEdgeAppState(targetPlan, [...serving.values()].flat()),
      onAdmitted ? { onAdmitted } : {},
    );
  };
  const started: Replica[] = [];
  const stopped: Replica[] = [];

  await ensureAppResources(docker, input.instance, app, plan.volumes);
  try {
    for (const service of plan.services) {
      const say = (text: string) => log(text, service.name);
      if (input.keep?.includes(service.name)) {
        const running = before.get(service.name)?.length ?? 0;
        say(`unchanged (same image and settings): its ${running} running replica(s) stay`);
        continue;
      }
      if (!replaced(service.name)) continue;
      const old = current.filter((r) => r.service === service.name);
      if (stopsFirst(service) && old.length > 0) {
        say(
          `stopping ${old.length} old replica(s) first: ${service.kind === "stateful" ? "its volumes are never shared" : "update order stop-first"}`,
        );
        serving.set(service.name, []);
        if (routed) await applyEdge(plan);
        for (const replica of old) {
          await docker
            .getContainer(replica.id)
            .stop()
            .catch(() => {});
          stopped.push(replica);
        }
      }
      const count = input.replicas(service);
      say(`starting ${count} replica(s) of r${input.release}`);
      const fresh = await startAll(docker, input, service, count, say);
      started.push(...fresh);
      serving.set(service.name, fresh);
      if (service.routes.length > 0) {
        // One edge change: the router admits the new replicas (once its own
        // check passed) before it drains the old ones, so none is ever alone.
        const backend = backendName(app, service.name);
        let admitted = false;
        await applyEdge(plan, (admittedTo, servers) => {
          if (admittedTo !== backend) return;
          admitted = true;
          say(`edge: ${servers.length} new replica(s) in the rotation`);
        });
        // A new backend gets its servers by a reload, not one by one.
        if (!admitted && fresh.length > 0)
          say(`edge: ${fresh.length} new replica(s) in the rotation`);
        if (old.length > 0) say(`edge: ${old.length} old replica(s) drained and out`);
      }
    }
    // Services the new plan no longer has go off the edge with it.
    for (const service of serving.keys()) {
      if (!plan.services.some((s) => s.name === service) && replaced(service))
        serving.delete(service);
    }
    if (routed || input.previousPlan?.services.some((s) => s.routes.length > 0))
      await applyEdge(plan);
  } catch (error) {
    log(
      `rolling back: removing ${started.length} new replica(s); the previous release keeps serving`,
    );
    // Old replicas that were stopped first start again, and the edge points at
    // the old ones before any new replica goes: after a switch that failed
    // half-way, the new ones may be the only servers left there.
    for (const replica of stopped)
      await docker
        .getContainer(replica.id)
        .start()
        .catch(() => {});
    await restoreEdge(deps.edge, app, input.previousPlan, [...before.values()].flat()).catch(
      (restoreError: Error) =>
        log(`edge: could not restore the previous routes: ${restoreError.message}`),
    );
    for (const replica of started) await retireReplica(docker, replica).catch(() => {});
    throw error;
  }
  return {
    retire: current.filter(
      (r) => replaced(r.service) || !plan.services.some((s) => s.name === r.service),
    ),
  };
}

/** Whether a service's old replicas must be gone before a new one starts (it must never run twice). */
export function stopsFirst(service: PlanService): boolean {
  return service.kind === "stateful" || service.update.order === "stop-first";
}

/** Starts `count` replicas at once; if one fails, the others are removed and its failure thrown. */
async function startAll(
  docker: Docker,
  input: RolloutInput,
  service: PlanService,
  count: number,
  say: (text: string) => void,
): Promise<Replica[]> {
  const image = input.images[service.name];
  if (!image) throw new ReplicaFailure(`no image recorded for service ${service.name}`, []);
  const results = await Promise.allSettled(
    Array.from({ length: count }, (_, i) =>
      startReplica(docker, {
        instance: input.instance,
        app: input.app,
        service,
        release: input.release,
        replica: i + 1,
        image,
        ...(input.files?.[service.name] ? { files: input.files[service.name] } : {}),
        log: say,
        ...(input.signal ? { signal: input.signal } : {}),
      }),
    ),
  );
  const fresh = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failed = results.find((r) => r.status === "rejected");
  if (failed) {
    for (const replica of fresh) await retireReplica(docker, replica).catch(() => {});
    throw failed.reason;
  }
  return fresh;
}

async function restoreEdge(
  edge: EdgeRouter,
  app: string,
  previousPlan: Plan | undefined,
  serving: Replica[],
): Promise<void> {
  if (!previousPlan) {
    await edge.removeApp(app);
    return;
  }
  await edge.setApp(app, toEdgeAppState(previousPlan, serving));
}
