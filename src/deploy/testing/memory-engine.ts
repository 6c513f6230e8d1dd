// An in-memory Engine for scenario tests: replicas are records, starts take a
// moment (so parallel starts interleave as they do on Docker), and failures
// are scripted per service. Every call is written to `steps` in order.

import { setImmediate as tick } from "node:timers/promises";
import type {
  Engine,
  EngineImage,
  Log,
  Replica,
  ReplicaDetails,
  ReplicaRequest,
  StartOptions,
} from "../engine.js";
import { ReplicaFailure } from "../engine.js";

/** How a scripted start goes: healthy, failing with a reason, or never healthy until cancelled. */
export type StartOutcome = "healthy" | { fail: string } | "hang";

export class MemoryEngine implements Engine {
  /** Hears every step as it is written (a scenario cancels a run at a given step). */
  onStep: ((step: string) => void) | undefined;
  private readonly replicas = new Map<string, Replica>();
  private nextId = 1;
  private nextPort = 30001;
  private watcher: ((app: string) => void) | undefined;

  /** Per "service" or "service#place", how its next starts go; default healthy. */
  outcomes: Record<string, StartOutcome> = {};
  /** Replicas ("db r2") whose removal the engine refuses, once each. */
  removeFails: string[] = [];

  /** `steps`: every change, e.g. "start web r2#1", "healthy web r2#1", "remove web r1#1"; may be shared with an edge. */
  constructor(readonly steps: string[] = []) {}

  private step(text: string): void {
    this.steps.push(text);
    this.onStep?.(text);
  }

  async prepare(input: {
    app: string;
    images: readonly EngineImage[];
  }): Promise<Record<string, string>> {
    this.step(`prepare ${input.app}`);
    return Object.fromEntries(input.images.map((i) => [i.service, `${i.image}@${i.digest}`]));
  }

  async list(app?: string): Promise<Replica[]> {
    return [...this.replicas.values()]
      .filter((r) => app === undefined || r.app === app)
      .map((r) => ({ ...r }))
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  async start(
    app: string,
    requests: readonly ReplicaRequest[],
    options: StartOptions,
  ): Promise<Replica[]> {
    const results = await Promise.allSettled(requests.map((r) => this.startOne(app, r, options)));
    const started = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const failed = results.find((r) => r.status === "rejected");
    if (failed) {
      for (const replica of started) await this.remove(replica);
      throw failed.reason;
    }
    return started;
  }

  private async startOne(app: string, request: ReplicaRequest, options: StartOptions) {
    const { service, release, replica: place } = request;
    const label = `${service.name} r${release}#${place}`;
    const id = `c${this.nextId++}`;
    const replica: Replica = {
      id,
      name: `skiff-${app}-${service.name}-r${release}-${place}-${id}`,
      app,
      service: service.name,
      release,
      replica: place,
      state: "running",
      ...(service.container.port !== undefined
        ? {
            containerPort: service.container.port,
            address: { host: "127.0.0.1", port: this.nextPort++ },
          }
        : {}),
      fingerprint: request.fingerprint,
      onAppNetwork: true,
      createdAt: this.nextId,
    };
    this.replicas.set(id, replica);
    this.step(`start ${label}`);
    const outcome =
      this.outcomes[`${service.name}#${place}`] ?? this.outcomes[service.name] ?? "healthy";
    try {
      await tick();
      options.signal?.throwIfAborted();
      if (outcome === "hang") {
        await new Promise((_, reject) => {
          if (!options.signal) return;
          options.signal.addEventListener("abort", () => reject(options.signal?.reason), {
            once: true,
          });
        });
      }
      if (typeof outcome === "object") {
        options.log(`${label}: ${outcome.fail}`, service.name);
        throw new ReplicaFailure(`replica ${place} of r${release}: ${outcome.fail}`, [
          `${service.name} log line`,
        ]);
      }
      this.step(`healthy ${label}`);
      return { ...replica };
    } catch (error) {
      this.replicas.delete(id);
      this.step(`removed ${label} (failed start)`);
      throw error;
    }
  }

  async stop(replica: Replica): Promise<void> {
    const current = this.replicas.get(replica.id);
    if (current) current.state = "exited";
    this.step(`stop ${describe(replica)}`);
  }

  async resume(replica: Replica): Promise<Replica> {
    const current = this.replicas.get(replica.id);
    if (!current) throw new Error(`no such replica ${replica.name}`);
    current.state = "running";
    this.step(`resume ${describe(replica)}`);
    return { ...current };
  }

  async remove(replica: Replica): Promise<void> {
    const refused = this.removeFails.indexOf(`${replica.service} r${replica.release}`);
    if (refused >= 0 && this.replicas.has(replica.id)) {
      this.removeFails.splice(refused, 1);
      this.step(`remove ${describe(replica)} refused`);
      throw new Error("removal refused by the engine");
    }
    if (!this.replicas.delete(replica.id)) return;
    this.step(`remove ${describe(replica)}`);
  }

  async details(): Promise<ReplicaDetails> {
    return { restarts: 0 };
  }

  async logTail(): Promise<string[]> {
    return [];
  }

  watch(onChange: (app: string) => void): { stop(): void } {
    this.watcher = onChange;
    return { stop: () => (this.watcher = undefined) };
  }

  async tearDown(app: string): Promise<string[]> {
    const gone = [...this.replicas.values()].filter((r) => r.app === app);
    for (const r of gone) this.replicas.delete(r.id);
    this.step(`tear down ${app}`);
    return gone.map((r) => r.name);
  }

  /** A replica dies by itself (its process exited), as Docker would report it. */
  crash(app: string, service: string, place: number, state = "exited"): void {
    const replica = [...this.replicas.values()].find(
      (r) => r.app === app && r.service === service && r.replica === place && r.state === "running",
    );
    if (!replica) throw new Error(`no running ${service}#${place} of ${app} to crash`);
    replica.state = state;
    this.step(`crash ${describe(replica)}`);
    this.watcher?.(app);
  }

  /** Makes every replica look as an older Skiff started it: without a fingerprint label. */
  forgetFingerprints(): void {
    for (const replica of this.replicas.values()) delete replica.fingerprint;
  }
}

/** "web r2#1". */
export function describe(replica: Pick<Replica, "service" | "release" | "replica">): string {
  return `${replica.service} r${replica.release}#${replica.replica}`;
}

/** A summary of what an engine runs, for assertions: "web r2#1 running". */
export async function summary(engine: Engine, app: string): Promise<string[]> {
  return (await engine.list(app)).map((r) => `${describe(r)} ${r.state}`).sort();
}

export type { Log };
