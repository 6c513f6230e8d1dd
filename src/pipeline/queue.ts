/**
 * Orders pipeline runs: one at a time per app, at most `concurrency` apps at
 * once, and a newer run waiting for an app replaces an older waiting one
 * (the older is superseded: its commit would be deployed only to be replaced
 * at once). A config change never replaces a waiting run that brings code:
 * that run reads the app's config when it starts, so the change goes live
 * with it, and the config run is the one superseded. Runs start in the
 * order they became ready.
 */
export interface QueuedJob {
  runId: number;
  app: string;
  /** Does the work; resolves when the run is finished, whatever its outcome. */
  execute(): Promise<void>;
  /** Called instead of execute when another run for the same app takes its place. */
  supersede(byRunId: number): void;
  /** "config": makes a release of the live code with the current config (a config change). */
  kind?: "code" | "config";
}

export class PipelineQueue {
  private readonly active = new Map<string, QueuedJob>();
  private readonly waiting = new Map<string, QueuedJob>();
  /** Apps with a waiting job, in the order they started waiting. */
  private readonly ready: string[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly concurrency = 2) {}

  enqueue(job: QueuedJob): void {
    const previous = this.waiting.get(job.app);
    if (previous && job.kind === "config" && previous.kind !== "config") {
      job.supersede(previous.runId);
      return;
    }
    if (previous) previous.supersede(job.runId);
    else this.ready.push(job.app);
    this.waiting.set(job.app, job);
    this.pump();
  }

  /** Removes a job that has not started; returns false if it is not waiting. */
  remove(runId: number): boolean {
    for (const [app, job] of this.waiting) {
      if (job.runId !== runId) continue;
      this.waiting.delete(app);
      this.ready.splice(this.ready.indexOf(app), 1);
      this.settleIfIdle();
      return true;
    }
    return false;
  }

  isActive(runId: number): boolean {
    return [...this.active.values()].some((job) => job.runId === runId);
  }

  /** Resolves when nothing runs or waits (for shutdown and tests). */
  idle(): Promise<void> {
    if (this.active.size === 0 && this.waiting.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    for (let i = 0; i < this.ready.length && this.active.size < this.concurrency; ) {
      const app = this.ready[i] as string;
      if (this.active.has(app)) {
        i++;
        continue;
      }
      this.ready.splice(i, 1);
      const job = this.waiting.get(app) as QueuedJob;
      this.waiting.delete(app);
      this.active.set(app, job);
      void job
        .execute()
        .catch(() => {
          // execute records its own failures; the queue only keeps order.
        })
        .finally(() => {
          this.active.delete(app);
          this.pump();
          this.settleIfIdle();
        });
    }
  }

  private settleIfIdle(): void {
    if (this.active.size > 0 || this.waiting.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
