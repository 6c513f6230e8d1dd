import type Docker from "dockerode";
import type { Deployer } from "../deploy/deployer.js";
import { LABELS } from "../docker/engine.js";

/** Container events that can leave an app short of a serving replica, or with one too many. */
const WAKING_ACTIONS = new Set(["die", "stop", "kill", "oom", "destroy", "health_status", "start"]);

export interface ReconcilerOptions {
  docker: Docker;
  deployer: Deployer;
  /** A full pass over every app this often, whatever the events said. Default 5 s. */
  intervalMs?: number;
  /** Events for one app within this window cause one reconcile. Default 300 ms. */
  debounceMs?: number;
  log?: (line: string) => void;
}

/**
 * Keeps every app at its desired state. Woken by Docker's container events
 * (a replica died, turned unhealthy, was removed by hand) for the app they
 * name, and by a periodic pass over all apps for anything an event missed
 * (the event stream reconnects after the daemon restarts). The work itself
 * is `Deployer.reconcile`, which waits for a deploy of the same app.
 *
 * Lifecycle: start once after the server adopted the data plane; stop on
 * shutdown. Not reentrant per app: a wake-up for an app that is being
 * reconciled runs once more afterwards.
 */
export class Reconciler {
  private readonly intervalMs: number;
  private readonly debounceMs: number;
  private readonly log: (line: string) => void;
  private timer: NodeJS.Timeout | undefined;
  private events: NodeJS.ReadableStream | undefined;
  private stopped = true;
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private passRunning = false;

  constructor(private readonly options: ReconcilerOptions) {
    this.intervalMs = options.intervalMs ?? 5000;
    this.debounceMs = options.debounceMs ?? 300;
    this.log = options.log ?? (() => {});
  }

  start(): void {
    this.stopped = false;
    void this.subscribe();
    this.timer = setInterval(() => void this.pass(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const timeout of this.pending.values()) clearTimeout(timeout);
    this.pending.clear();
    (this.events as { destroy?: () => void } | undefined)?.destroy?.();
  }

  /** One pass over every app, skipping those a deploy is working on (its events wake them later). */
  async pass(): Promise<void> {
    if (this.passRunning || this.stopped) return;
    this.passRunning = true;
    try {
      await this.options.deployer.reconcileAll(
        (text, service) => this.log(service ? `${service}: ${text}` : text),
        { skipBusy: true },
      );
    } catch (error) {
      this.log(`reconcile pass failed: ${(error as Error).message}`);
    } finally {
      this.passRunning = false;
    }
  }

  private wake(app: string): void {
    if (this.stopped || this.pending.has(app)) return;
    const timeout = setTimeout(() => {
      this.pending.delete(app);
      void this.options.deployer
        .reconcile(app, (text, service) =>
          this.log(`${app}: ${service ? `${service}: ` : ""}${text}`),
        )
        .catch((error: Error) => this.log(`${app}: reconcile failed: ${error.message}`));
    }, this.debounceMs);
    timeout.unref();
    this.pending.set(app, timeout);
  }

  private async subscribe(): Promise<void> {
    while (!this.stopped) {
      try {
        const stream = (await this.options.docker.getEvents({
          filters: { type: ["container"], label: [LABELS.app, LABELS.replica] },
        })) as NodeJS.ReadableStream;
        this.events = stream;
        let partial = "";
        await new Promise<void>((resolve) => {
          stream.on("data", (chunk: Buffer) => {
            const lines = (partial + chunk.toString("utf8")).split("\n");
            partial = lines.pop() ?? "";
            for (const line of lines) this.onEvent(line);
          });
          stream.on("end", resolve);
          stream.on("close", resolve);
          stream.on("error", resolve);
        });
      } catch (error) {
        this.log(`Docker events unavailable (${(error as Error).message}); retrying`);
      }
      if (!this.stopped) await new Promise((resolve) => setTimeout(resolve, 1000).unref());
    }
  }

  private onEvent(line: string): void {
    if (!line.trim()) return;
    let event: { Action?: string; Actor?: { Attributes?: Record<string, string> } };
    try {
      event = JSON.parse(line);
    } catch {
      return;
    }
    const action = (event.Action ?? "").split(":")[0] ?? "";
    const app = event.Actor?.Attributes?.[LABELS.app];
    if (app && WAKING_ACTIONS.has(action)) this.wake(app);
  }
}
