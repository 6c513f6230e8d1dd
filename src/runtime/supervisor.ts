import { SkiffError } from "../errors.js";
import type { Store } from "../state/store.js";
import type { ManagedProcessSpec } from "./managed-process.js";
import { runningPid, startDetached } from "./managed-process.js";

/** A data-plane process the supervisor keeps running. */
export interface SupervisedProcess extends ManagedProcessSpec {
  /** Renders the process's config files from Skiff's state; called before every start. */
  writeConfig(): void;
  /**
   * How often to look whether the process still runs (its pid file and
   * /proc, no health check), for a process whose death must be noticed
   * sooner than the regular checks notice it. One found gone is restarted
   * at once, as a regular check would.
   */
  watchMs?: number;
  /**
   * Called before each start, after writeConfig: waits for (or ends) what a
   * dead instance left behind that would make the start fail, such as
   * children still holding its ports.
   */
  beforeStart?(): Promise<void>;
}

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** What the supervisor knows about one process, for `skiff status`. */
export interface ProcessState {
  name: string;
  pid?: number;
  state: "running" | "starting" | "restarting" | "down";
  /** Restarts since this server started. */
  restarts: number;
  lastError?: string;
  /** What to do about lastError, when the failure said. */
  lastHint?: string;
  /** When the next start attempt happens while down (ISO time). */
  nextAttemptAt?: string;
}

export interface SupervisorOptions {
  processes: SupervisedProcess[];
  store: Store;
  logger: Logger;
  /** How often liveness is checked. */
  intervalMs?: number;
  /** Failed health checks in a row before a live but unresponsive process is replaced. */
  unhealthyLimit?: number;
  backoff?: { initialMs: number; maxMs: number };
  /** A process that dies sooner than this after its start counts as a failed start (backoff grows). */
  stableMs?: number;
}

interface Tracked {
  process: SupervisedProcess;
  status: ProcessState;
  unhealthyChecks: number;
  failures: number;
  nextAttempt: number;
  startedAt: number;
  /** The ensure() under way for this process: a check and a watch never run one at once. */
  pending?: Promise<void>;
  watch?: NodeJS.Timeout;
}

/**
 * Keeps the registry and the edge running. It never owns them: they run
 * detached, so the supervisor only adopts, checks and (re)starts them. A dead
 * process is restarted at once; one that dies soon after its start (it
 * cannot run: a port taken, a bad config), or whose starts keep failing,
 * with exponential backoff. An adopted process counts as long-running. Every adoption,
 * start, death and failure is recorded as a platform event. The regular
 * checks run every `intervalMs`; a process with `watchMs` is also looked at
 * that often for its death alone. For each process one check runs at a time
 * (a watch that finds a check under way waits for it).
 */
export class DataPlaneSupervisor {
  private readonly tracked: Tracked[];
  private readonly intervalMs: number;
  private readonly unhealthyLimit: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly stableMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly options: SupervisorOptions) {
    this.intervalMs = options.intervalMs ?? 2000;
    this.unhealthyLimit = options.unhealthyLimit ?? 3;
    this.backoff = options.backoff ?? { initialMs: 1000, maxMs: 30_000 };
    this.stableMs = options.stableMs ?? 30_000;
    this.tracked = options.processes.map((proc) => ({
      process: proc,
      status: { name: proc.name, state: "starting", restarts: 0 },
      unhealthyChecks: 0,
      failures: 0,
      nextAttempt: 0,
      startedAt: 0,
    }));
  }

  /** Adopts each process that already runs and starts the others. Never throws. */
  async ensureAll(): Promise<void> {
    await Promise.all(this.tracked.map((t) => this.once(t, "boot")));
  }

  /** Starts periodic checks, and the watches of the processes that have one. */
  start(): void {
    const tick = async () => {
      this.running = this.check();
      await this.running;
      this.running = undefined;
      if (this.timer) this.timer = setTimeout(tick, this.intervalMs);
    };
    this.timer = setTimeout(tick, this.intervalMs);
    for (const tracked of this.tracked) {
      const every = tracked.process.watchMs;
      if (every === undefined) continue;
      let goneOnce = false;
      tracked.watch = setInterval(() => {
        // Only a process believed running can have died; one restarting or
        // down is the regular checks' (and the backoff's) to start.
        if (tracked.pending || tracked.status.state !== "running") return;
        if (runningPid(tracked.process) !== undefined) {
          goneOnce = false;
          return;
        }
        // Gone at two looks in a row: HAProxy's master re-executes itself on
        // every reload, and for that instant its /proc entry does not name
        // the binary; one look would take that for a death, and the restart
        // would end the live edge.
        if (!goneOnce) {
          goneOnce = true;
          return;
        }
        goneOnce = false;
        void this.once(tracked, "check");
      }, every);
    }
  }

  /** Stops checking and watching; the processes keep running. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const tracked of this.tracked) {
      if (tracked.watch) clearInterval(tracked.watch);
      delete tracked.watch;
    }
    await this.running;
    await Promise.all(this.tracked.map((t) => t.pending));
  }

  /** One round of checks over every process. */
  async check(): Promise<void> {
    await Promise.all(this.tracked.map((t) => this.once(t, "check")));
  }

  states(): ProcessState[] {
    return this.tracked.map((t) => ({ ...t.status }));
  }

  private event(tracked: Tracked, kind: string, message: string, level: keyof Logger = "info") {
    this.options.logger[level](`${tracked.process.name}: ${message}`);
    this.options.store.recordEvent(tracked.process.name, kind, message);
  }

  /** Exponential backoff: initialMs, doubling per failure in a row, at most maxMs. */
  private delay(failures: number): number {
    return Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** (failures - 1));
  }

  /** ensure(), or the one already under way for this process. ensure() never throws. */
  private once(tracked: Tracked, reason: "boot" | "check"): Promise<void> {
    tracked.pending ??= this.ensure(tracked, reason).finally(() => {
      tracked.pending = undefined;
    });
    return tracked.pending;
  }

  private async ensure(tracked: Tracked, reason: "boot" | "check"): Promise<void> {
    const proc = tracked.process;
    const pid = runningPid(proc);
    if (pid !== undefined) {
      if (await proc.isHealthy()) {
        if (reason === "boot")
          this.event(tracked, "adopted", `adopted the running process (pid ${pid})`);
        tracked.status = { ...tracked.status, name: proc.name, pid, state: "running" };
        delete tracked.status.lastError;
        delete tracked.status.lastHint;
        delete tracked.status.nextAttemptAt;
        tracked.unhealthyChecks = 0;
        // Only a process that stayed up a while clears the backoff: one that
        // starts, answers and dies must not be restarted in a tight loop.
        if (Date.now() - tracked.startedAt >= this.stableMs) tracked.failures = 0;
        return;
      }
      tracked.unhealthyChecks++;
      if (tracked.unhealthyChecks < this.unhealthyLimit && reason === "check") return;
      this.event(
        tracked,
        "unresponsive",
        `pid ${pid} runs but has not answered ${tracked.unhealthyChecks} health checks; replacing it`,
        "warn",
      );
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone: the start below is what matters.
      }
    } else if (reason === "check" && tracked.status.state === "running") {
      const upFor = Date.now() - tracked.startedAt;
      let when = "restarting it";
      if (upFor < this.stableMs) {
        tracked.failures++;
        const delay = this.delay(tracked.failures);
        tracked.nextAttempt = Date.now() + delay;
        when = `restarting it in ${delay / 1000}s (it died ${Math.round(upFor / 1000)}s after its start)`;
      }
      this.event(
        tracked,
        "died",
        `the process (pid ${tracked.status.pid}) is gone; ${when}`,
        "warn",
      );
      tracked.status = { ...tracked.status, state: "restarting" };
      delete tracked.status.pid;
    }

    if (Date.now() < tracked.nextAttempt) return;
    const wasRunning =
      tracked.status.state === "running" ||
      tracked.status.state === "restarting" ||
      tracked.status.pid !== undefined;
    tracked.status.state = wasRunning ? "restarting" : "starting";
    try {
      proc.writeConfig();
      await proc.beforeStart?.();
      const newPid = await startDetached(proc);
      if (wasRunning || tracked.failures > 0) tracked.status.restarts++;
      tracked.status = { ...tracked.status, pid: newPid, state: "running" };
      delete tracked.status.lastError;
      delete tracked.status.lastHint;
      delete tracked.status.nextAttemptAt;
      tracked.startedAt = Date.now();
      tracked.unhealthyChecks = 0;
      this.event(tracked, wasRunning ? "restarted" : "started", `started (pid ${newPid})`);
    } catch (error) {
      tracked.failures++;
      const delay = this.delay(tracked.failures);
      tracked.nextAttempt = Date.now() + delay;
      const message = error instanceof Error ? error.message : String(error);
      tracked.status = {
        name: proc.name,
        state: "down",
        restarts: tracked.status.restarts,
        lastError: message,
        ...(error instanceof SkiffError && error.hint ? { lastHint: error.hint } : {}),
        nextAttemptAt: new Date(tracked.nextAttempt).toISOString(),
      };
      this.event(tracked, "start_failed", `${message} (next attempt in ${delay / 1000}s)`, "error");
    }
  }
}
