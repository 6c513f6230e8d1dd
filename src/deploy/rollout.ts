import { backendName } from "../edge/domain-map.js";
import type { Edge } from "../edge/edge.js";
import type { Plan, PlanService } from "../spec/index.js";
import { type Decision, dependencyLevels, type ServiceDecision } from "./desired.js";
import { toEdgeAppState } from "./edge-targets.js";
import { type Engine, isServing, type Log, type Replica, ReplicaFailure } from "./engine.js";

export interface RolloutInput {
  app: string;
  release: number;
  plan: Plan;
  /** The plan that is live now, if any: what the edge goes back to when the rollout fails. */
  previousPlan?: Plan;
  /** What changes (desired.ts), from the replicas before the rollout. */
  decision: Decision;
  /** Per service, the image reference its replicas run (Engine.prepare). */
  images: Readonly<Record<string, string>>;
  /** Per service, serviceFingerprint of the release. */
  fingerprints: Readonly<Record<string, string>>;
  /** Per service, the release's files (a tar archive) put into each new replica. */
  files: Readonly<Record<string, Buffer>>;
  log: Log;
  signal?: AbortSignal;
  /** Hears that the rollout failed and is being undone, before the undoing starts. */
  onRollingBack?: (reason: Error) => void;
}

/**
 * Puts a release's replicas in place of the running ones (DESIGN.md,
 * "Deploy on one host"), the services of one dependency level at the same
 * time, level after level:
 *
 *   start the new replicas → the engine waits until each is healthy →
 *   switch the edge (new ones in, old ones drained and out)
 *
 * and returns the old replicas, which the caller stops once it recorded the
 * release as live (a crash between the two leaves a state the reconciler
 * converges from). A stop-first service (stateful, or `order: stop-first`)
 * stops its old replicas before its new one starts. All or nothing: when
 * anything fails or the run is cancelled, every new replica goes, stopped
 * old ones start again and the edge goes back to the old replicas, then
 * the failure is rethrown.
 */
export async function rollOut(
  deps: { engine: Engine; edge: Edge },
  input: RolloutInput,
): Promise<{ retire: Replica[] }> {
  const rollout = new Rollout(deps, input);
  try {
    for (const level of dependencyLevels(input.plan.services)) {
      await rollout.startLevel(level);
      await rollout.switchEdge(level);
    }
    await rollout.dropStrays();
  } catch (error) {
    // The rollout's own failure is what the caller hears, whatever the undoing met.
    await rollout.rollBack(error as Error).catch((undo: Error) => {
      safely(() => input.log(`rollback failed: ${undo.message}; the reconciler takes over`));
    });
    throw error;
  }
  return { retire: rollout.oldReplicas() };
}

/** Whether a service's old replicas must be gone before a new one starts (it must never run twice). */
export function stopsFirst(service: PlanService): boolean {
  return service.kind === "stateful" || service.update.order === "stop-first";
}

/** Reports that must never stop the undoing (a full disk under the run log). */
function safely(report: () => void): void {
  try {
    report();
  } catch {
    // Nothing to tell it to: the rollback's steps matter more than its words.
  }
}

/** The named volumes a service mounts. */
function namedVolumes(service: PlanService | undefined): string[] {
  return service?.container.volumes.map((v) => v.source) ?? [];
}

function routes(plan: Plan | undefined): boolean {
  return plan?.services.some((s) => s.routes.length > 0) ?? false;
}

/** The state of one rollout: what serves now, what it started, what it stopped. */
class Rollout {
  private readonly changes: Map<string, ServiceDecision>;
  /** Per service, the replicas the edge should send traffic to now. */
  private readonly serving = new Map<string, Replica[]>();
  /** What served before the rollout, for the edge to go back to. */
  private readonly before: Replica[];
  private readonly started: Replica[] = [];
  private readonly stopped: Replica[] = [];
  private readonly routed: boolean;
  /** What the edge was last told, so the final change is skipped when it would change nothing. */
  private lastApplied: string | undefined;

  constructor(
    private readonly deps: { engine: Engine; edge: Edge },
    private readonly input: RolloutInput,
  ) {
    const { decision, plan } = input;
    this.changes = new Map(decision.services.map((d) => [d.service.name, d]));
    for (const d of decision.services) {
      this.serving.set(d.service.name, [...d.keep, ...d.retire.filter(isServing)]);
    }
    for (const stray of decision.strays.filter(isServing)) {
      this.serving.set(stray.service, [...(this.serving.get(stray.service) ?? []), stray]);
    }
    this.before = [...this.serving.values()].flat();
    this.routed = routes(plan);
  }

  /**
   * Starts the new replicas of every service of the level at once. The
   * first failure cancels the others' starts, so a rollback does not wait
   * for health checks whose result no longer matters.
   */
  async startLevel(level: readonly PlanService[]): Promise<void> {
    const cancel = new AbortController();
    const signal = this.input.signal
      ? AbortSignal.any([this.input.signal, cancel.signal])
      : cancel.signal;
    const results = await Promise.allSettled(
      level.map((service) =>
        this.startService(service, signal).catch((error: unknown) => {
          cancel.abort(error);
          throw error;
        }),
      ),
    );
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw this.input.signal?.aborted ? this.input.signal.reason : failed.reason;
  }

  private async startService(service: PlanService, signal: AbortSignal): Promise<void> {
    const change = this.changes.get(service.name) as ServiceDecision;
    const say = (text: string) => this.input.log(text, service.name);
    if (change.start.length === 0) {
      if (change.retire.length === 0 && change.keep.length > 0) {
        say(
          `unchanged (same image and settings): its ${change.keep.length} running replica(s) stay`,
        );
      }
      // Those it retires (more than wanted) leave the edge at the level's switch.
      this.serving.set(service.name, change.keep);
      return;
    }
    const image = this.input.images[service.name];
    const fingerprint = this.input.fingerprints[service.name];
    if (!image || !fingerprint) {
      throw new ReplicaFailure(
        `release r${this.input.release} has no image for ${service.name}`,
        [],
      );
    }
    // A level that failed (or a cancelled run) stops nothing and starts nothing more.
    signal.throwIfAborted();
    if (stopsFirst(service)) await this.stopOldFirst(service, change);
    signal.throwIfAborted();
    const files = this.input.files[service.name];
    say(`starting ${change.start.length} replica(s) of r${this.input.release}`);
    const fresh = await this.deps.engine.start(
      this.input.app,
      change.start.map((replica) => ({
        service,
        release: this.input.release,
        replica,
        image,
        fingerprint,
        ...(files ? { files } : {}),
      })),
      { log: (text) => say(text), signal },
    );
    this.started.push(...fresh);
    this.serving.set(service.name, [...change.keep, ...fresh]);
  }

  /**
   * The stop-first strategy (a stateful service, or `update.order:
   * stop-first`): its old replicas leave the edge and stop before a new one
   * starts, so two never share a volume. They are kept, stopped, so a
   * rollback can start them again.
   */
  private async stopOldFirst(service: PlanService, change: ServiceDecision): Promise<void> {
    // A service the new plan no longer has that mounts one of this one's
    // volumes (the same database under a new name) stops first too.
    const volumes = namedVolumes(service);
    const sharers = this.input.decision.strays.filter((r) =>
      namedVolumes(this.input.previousPlan?.services.find((s) => s.name === r.service)).some((v) =>
        volumes.includes(v),
      ),
    );
    const old = [...change.retire, ...sharers];
    if (old.length === 0) return;
    this.input.log(
      `stopping ${old.length} old replica(s) first: ${service.kind === "stateful" ? "its volumes are never shared" : "update order stop-first"}`,
      service.name,
    );
    this.serving.set(service.name, change.keep);
    for (const sharer of sharers) this.serving.delete(sharer.service);
    if (service.routes.length > 0 || (sharers.length > 0 && routes(this.input.previousPlan))) {
      await this.applyEdge();
    }
    // Recorded before the stop: one whose stop fails half-way is started again too.
    this.stopped.push(...old);
    const results = await Promise.allSettled(old.map((r) => this.deps.engine.stop(r)));
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /**
   * One edge change for the level: the new replicas are admitted before the
   * old ones drain, so no backend is ever without a server.
   */
  async switchEdge(level: readonly PlanService[]): Promise<void> {
    const switched = level.filter((s) => {
      const change = this.changes.get(s.name) as ServiceDecision;
      return s.routes.length > 0 && (change.start.length > 0 || change.retire.length > 0);
    });
    if (switched.length === 0) return;
    const admitted = new Set<string>();
    await this.applyEdge((backend, servers) => {
      const service = switched.find((s) => backendName(this.input.app, s.name) === backend);
      if (!service) return;
      admitted.add(service.name);
      this.input.log(`edge: ${servers.length} new replica(s) in the rotation`, service.name);
    });
    for (const service of switched) {
      const change = this.changes.get(service.name) as ServiceDecision;
      const fresh = (this.serving.get(service.name) ?? []).length - change.keep.length;
      // A new backend gets its servers by a reload, not one by one.
      if (!admitted.has(service.name) && fresh > 0) {
        this.input.log(`edge: ${fresh} new replica(s) in the rotation`, service.name);
      }
      const old = change.retire.filter(isServing).length;
      if (old > 0 && !stopsFirst(service)) {
        this.input.log(`edge: ${old} old replica(s) drained and out`, service.name);
      }
    }
  }

  /** Services the new plan no longer has go off the edge last. */
  async dropStrays(): Promise<void> {
    for (const stray of this.input.decision.strays) this.serving.delete(stray.service);
    if (this.routed || routes(this.input.previousPlan)) await this.applyEdge();
  }

  /** The replicas the new release no longer runs: its services' old ones and the strays. */
  oldReplicas(): Replica[] {
    return [
      ...this.input.decision.services.flatMap((d) => d.retire),
      ...this.input.decision.strays,
    ];
  }

  /**
   * Undoes everything, each step for all services at once: the new
   * replicas of stop-first services go, the old ones stopped for them start
   * again (only once nothing else of theirs runs: two must never share a
   * volume), the edge goes back to the old replicas before any other new one
   * goes (after a switch that failed half-way the new ones may be the only
   * servers left there), then the other new replicas are removed. A step
   * that fails is reported and the others still run.
   */
  async rollBack(reason: Error): Promise<void> {
    const { app, log, previousPlan, plan } = this.input;
    const say = (text: string) => safely(() => log(text));
    safely(() => this.input.onRollingBack?.(reason));
    say(
      `rolling back: removing ${this.started.length} new replica(s); the previous release keeps serving`,
    );
    const failedTo = (what: string) => (error: Error) => {
      say(`rollback: could not ${what}: ${error.message}`);
      return false;
    };
    const remove = (replicas: readonly Replica[]) =>
      Promise.all(
        replicas.map((replica) =>
          this.deps.engine
            .remove(replica)
            .then(() => true, failedTo(`remove new replica ${replica.name}`)),
        ),
      );
    const stopFirst = new Set(plan.services.filter(stopsFirst).map((s) => s.name));
    await remove(this.started.filter((r) => stopFirst.has(r.service)));
    const resumed = await this.resumeStopped();
    if (this.lastApplied !== undefined) {
      const before = this.before.map((r) => resumed.get(r.id) ?? r);
      const restore = previousPlan
        ? this.deps.edge.setApp(app, toEdgeAppState(previousPlan, before, new Set(resumed.keys())))
        : this.deps.edge.removeApp(app);
      await restore.catch(failedTo("restore the previous routes on the edge"));
    }
    await remove(this.started.filter((r) => !stopFirst.has(r.service)));
  }

  /**
   * Starts the stopped old replicas again, each only when no other replica
   * of a service on its volumes runs (a new one whose removal failed, or
   * one the engine could not clean up after a failed start): then it stays
   * stopped, and says so. Returns them as they run now (a new host port).
   */
  private async resumeStopped(): Promise<Map<string, Replica>> {
    const resumed = new Map<string, Replica>();
    if (this.stopped.length === 0) return resumed;
    const say = (text: string) => safely(() => this.input.log(text));
    const stoppedIds = new Set(this.stopped.map((r) => r.id));
    const running = (await this.deps.engine.list(this.input.app)).filter(
      (r) => !stoppedIds.has(r.id) && r.state !== "exited" && r.state !== "dead",
    );
    await Promise.all(
      this.stopped.map(async (replica) => {
        const volumes = this.volumesOf(replica.service);
        const beside = running.filter(
          (r) =>
            r.service === replica.service ||
            this.volumesOf(r.service).some((v) => volumes.includes(v)),
        );
        if (beside.length > 0) {
          say(
            `rollback: ${replica.name} stays stopped: ${beside.map((r) => r.name).join(", ")} still runs on its volumes; the reconciler starts it once that is gone`,
          );
          return;
        }
        try {
          resumed.set(replica.id, await this.deps.engine.resume(replica));
        } catch (error) {
          say(
            `rollback: could not start old replica ${replica.name} again: ${(error as Error).message}`,
          );
        }
      }),
    );
    return resumed;
  }

  /** The named volumes of a service, in the new plan or the one before. */
  private volumesOf(service: string): string[] {
    const planned =
      this.input.plan.services.find((s) => s.name === service) ??
      this.input.previousPlan?.services.find((s) => s.name === service);
    return namedVolumes(planned);
  }

  private async applyEdge(onAdmitted?: (backend: string, servers: string[]) => void) {
    const state = toEdgeAppState(this.input.plan, [...this.serving.values()].flat());
    const text = JSON.stringify(state);
    if (text === this.lastApplied) return;
    // Set before the call: a change that failed half-way must be undone too.
    this.lastApplied = text;
    await this.deps.edge.setApp(this.input.app, state, onAdmitted ? { onAdmitted } : {});
  }
}
