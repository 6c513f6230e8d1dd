import type { StartPolicy } from "../deploy/converge.js";
import type { Deployer } from "../deploy/deployer.js";
import type { Engine } from "../deploy/engine.js";
import type { ReplicaSurvey } from "../deploy/replica-survey.js";

export interface ReconcilerOptions {
  engine: Pick<Engine, "watch">;
  deployer: Pick<Deployer, "survey" | "busy" | "reconcile">;
  /** A full pass over every app this often, whatever the events said. Default 5 s. */
  intervalMs?: number;
  /** Events for one app within this window cause one reconcile. Default 300 ms. */
  debounceMs?: number;
  /** The clock, for the start backoff. */
  now?: () => number;
  log?: (line: string) => void;
}

/** The last full pass, for `skiff status`. */
export interface ReconcilePass {
  finishedAt: string;
  durationMs: number;
  apps: number;
}

/**
 * A pass reconciles this many apps at a time: most of an app's pass is
 * waiting (HAProxy, HTTP checks of replicas the edge does not see up), and
 * apps do not share a lock. Eight at a time was no faster than four with
 * 50 apps (bench/many-apps, docs/BENCHMARKS.md).
 */
const PASS_CONCURRENCY = 4;

/** The first wait after a replica failed to start; it doubles up to the maximum. */
export const START_BACKOFF_MS = 5_000;
export const MAX_START_BACKOFF_MS = 5 * 60_000;

/**
 * Keeps every app at its desired state. Woken by the engine's changes (a
 * replica died, turned unhealthy, was removed by hand) for the app they
 * name, and by a periodic pass over all apps for anything a change missed.
 * The work itself is `Deployer.reconcile`, which waits for a deploy of the
 * same app.
 *
 * A replica that cannot start now will most likely fail again at once, so
 * the reconciler waits longer after each failed try of a service (per
 * release: a new release tries at once).
 *
 * Lifecycle: start once after the server adopted the data plane; stop on
 * shutdown. Not reentrant per app: a wake-up for an app that is being
 * reconciled runs once more afterwards.
 */
export class Reconciler {
  private readonly intervalMs: number;
  private readonly debounceMs: number;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private timer: NodeJS.Timeout | undefined;
  private watching: { stop(): void } | undefined;
  private stopped = false;
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private passRunning = false;
  /** Per app/service/release: when a replica may be tried again, and the wait after the next failure. */
  private readonly backoff = new Map<string, { until: number; delayMs: number }>();
  readonly policy: StartPolicy;
  private last: ReconcilePass | undefined;

  constructor(private readonly options: ReconcilerOptions) {
    this.intervalMs = options.intervalMs ?? 5000;
    this.debounceMs = options.debounceMs ?? 300;
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => {});
    const key = (app: string, service: string, release: number) => `${app}/${service}/r${release}`;
    this.policy = {
      mayStart: (app, service, release) =>
        this.now() >= (this.backoff.get(key(app, service, release))?.until ?? 0),
      started: (app, service, release) => {
        this.backoff.delete(key(app, service, release));
      },
      failed: (app, service, release) => {
        const previous = this.backoff.get(key(app, service, release));
        const delayMs = Math.min(
          previous ? previous.delayMs * 2 : START_BACKOFF_MS,
          MAX_START_BACKOFF_MS,
        );
        this.backoff.set(key(app, service, release), { until: this.now() + delayMs, delayMs });
        return `next try in ${Math.round(delayMs / 1000)} s`;
      },
    };
  }

  /** Follows the engine's changes and passes over every app periodically; `pass()` may run before. */
  start(): void {
    this.watching = this.options.engine.watch(
      (app) => this.wake(app),
      (message) => this.log(message),
    );
    this.timer = setInterval(() => void this.pass(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const timeout of this.pending.values()) clearTimeout(timeout);
    this.pending.clear();
    this.watching?.stop();
  }

  /** One pass over every app, skipping those a deploy is working on (its changes wake them later). */
  async pass(): Promise<void> {
    if (this.passRunning || this.stopped) return;
    this.passRunning = true;
    const started = this.now();
    try {
      const survey = await this.options.deployer.survey();
      const apps = survey.apps();
      this.pruneBackoff(apps);
      const queue = [...apps];
      const worker = async () => {
        for (let app = queue.shift(); app !== undefined; app = queue.shift()) {
          if (this.stopped) return;
          if (this.options.deployer.busy(app)) continue;
          await this.reconcile(app, survey);
        }
      };
      await Promise.all(Array.from({ length: PASS_CONCURRENCY }, worker));
      if (this.stopped) return;
      const finished = this.now();
      this.last = {
        finishedAt: new Date(finished).toISOString(),
        durationMs: finished - started,
        apps: apps.length,
      };
    } catch (error) {
      this.log(`reconcile pass failed: ${(error as Error).message}`);
    } finally {
      this.passRunning = false;
    }
  }

  /**
   * Forgets the backoff of apps that are gone (destroyed: no live release
   * and no replica), so an app created again under the same name, whose
   * releases count from r1 again, starts without it.
   */
  private pruneBackoff(apps: readonly string[]): void {
    const present = new Set(apps);
    for (const key of this.backoff.keys()) {
      if (!present.has(key.slice(0, key.indexOf("/")))) this.backoff.delete(key);
    }
  }

  /** The last full pass that finished, if any. */
  lastPass(): ReconcilePass | undefined {
    return this.last ? { ...this.last } : undefined;
  }

  /** Reconciles one app now; a failure is logged, since the next pass tries again. */
  async reconcile(app: string, survey?: ReplicaSurvey): Promise<void> {
    await this.options.deployer
      .reconcile(
        app,
        (text, service) => this.log(`${app}: ${service ? `${service}: ` : ""}${text}`),
        this.policy,
        survey,
      )
      .catch((error: Error) => this.log(`${app}: reconcile failed: ${error.message}`));
  }

  private wake(app: string): void {
    if (this.stopped || this.pending.has(app)) return;
    const timeout = setTimeout(() => {
      this.pending.delete(app);
      void this.reconcile(app);
    }, this.debounceMs);
    timeout.unref();
    this.pending.set(app, timeout);
  }
}
