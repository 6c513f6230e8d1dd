import { setTimeout as sleep } from "node:timers/promises";
import type { Engine, Replica } from "./engine.js";

/**
 * How long replicas a rollout replaced wait, out of the edge, before they
 * are stopped. A new replica's first requests are its slowest (code run
 * for the first time, first connections), and stopping the old ones costs
 * the host CPU at that very moment (their exit, Docker's teardown of their
 * network and published ports): measured in bench/zero-downtime, the
 * serving p99 through the edge was about half with the stop a second later.
 */
export const SETTLE_MS = 1_000;

/**
 * Old replicas being stopped and removed in the background, each with its
 * grace period, without holding the app's lock: a push returns once its
 * release is live, not after the old replicas' `stop_grace_period` (a
 * server whose PID 1 ignores SIGTERM takes all of it). The release is
 * recorded live before they start, so if the control plane dies meanwhile,
 * the reconciler finds these replicas outside the desired state at its next
 * pass and removes them: nothing is orphaned.
 */
export class Retirements {
  private readonly pending = new Map<string, { replica: Replica; done: Promise<void> }>();

  constructor(
    private readonly engine: Engine,
    /** Hears a retirement that failed (the reconciler tries again at its next pass). */
    private readonly onFailure: (replica: Replica, error: Error) => void,
    /** Hears a retirement that ended, removed or failed. */
    private readonly onEnd: (replica: Replica) => void = () => {},
  ) {}

  /**
   * Starts retiring these replicas; one already on its way out is left to
   * that retirement. `afterMs`: they stop only after this long (they are
   * out of the edge already; see SETTLE_MS).
   */
  retire(replicas: readonly Replica[], options: { afterMs?: number } = {}): void {
    for (const replica of replicas) {
      if (this.pending.has(replica.id)) continue;
      const done = sleep(options.afterMs ?? 0)
        .then(() => this.engine.remove(replica))
        .catch((error: Error) => this.onFailure(replica, error))
        .finally(() => {
          this.pending.delete(replica.id);
          this.onEnd(replica);
        });
      this.pending.set(replica.id, { replica, done });
    }
  }

  /** Whether this replica is on its way out. */
  has(id: string): boolean {
    return this.pending.has(id);
  }

  /** Resolves once no replica of these services of `app` is still being retired. */
  async until(app: string, services: readonly string[]): Promise<void> {
    const waiting = [...this.pending.values()].filter(
      (p) => p.replica.app === app && services.includes(p.replica.service),
    );
    await Promise.all(waiting.map((p) => p.done));
  }

  /** Resolves once every replica being retired is gone (for shutdown and tests). */
  async all(): Promise<void> {
    await Promise.all([...this.pending.values()].map((p) => p.done));
  }
}
