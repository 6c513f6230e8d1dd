/**
 * Orders pipeline runs: one at a time per app, at most `concurrency` apps at
 * once, and a newer run waiting for an app replaces an older waiting one
 * (the older is superseded: its commit would be deployed only to be replaced
 * at once). A config change waits apart: it never replaces a run that
 * brings code, nor is replaced by one, and runs after it (a config run whose
 * change that run already took live ends at once, see
 * triggers/release-source.ts). Runs start in the order they became ready.
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
  /** Per app: at most one waiting code run, then at most one waiting config run. */
  private readonly waiting = new Map<string, QueuedJob[]>();
  /** Apps with a waiting job, in the order they started waiting. */
  private readonly ready: string[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly concurrency = 2) {}

  enqueue(job: QueuedJob): void {
    const kind = job.kind ?? "code";
    const jobs = this.waiting.get(job.app) ?? [];
    if (jobs.length === 0) this.ready.push(job.app);
    const previous = jobs.find((j) => (j.kind ?? "code") === kind);
    if (previous) previous.supersede(job.runId);
    const others = jobs.filter((j) => j !== previous);
    this.waiting.set(job.app, kind === "code" ? [job, ...others] : [...others, job]);
    this.pump();
  }

  /** Removes a job that has not started; returns false if it is not waiting. */
  remove(runId: number): boolean {
    for (const [app, jobs] of this.waiting) {
      const rest = jobs.filter((job) => job.runId !== runId);
      if (rest.length === jobs.length) continue;
      if (rest.length > 0) {
        this.waiting.set(app, rest);
      } else {
        this.waiting.delete(app);
        this.ready.splice(this.ready.indexOf(app), 1);
      }
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
      const [job, ...rest] = this.waiting.get(app) as QueuedJob[];
      if (!job) {
        this.ready.splice(i, 1);
        continue;
      }
      if (rest.length > 0) {
        this.waiting.set(app, rest);
        i++;
      } else {
        this.waiting.delete(app);
        this.ready.splice(i, 1);
      }
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
