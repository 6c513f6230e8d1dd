// An in-memory Edge for scenario tests: it holds each app's desired state,
// writes every change to `steps`, and can be told to fail.

import type { AdmittedListener, Edge, EdgeServerStatus } from "../../edge/edge.js";
import type { EdgeAppState } from "../../edge/edge-state.js";
import { NotFoundError } from "../../errors.js";

export class MemoryEdge implements Edge {
  private readonly apps = new Map<string, EdgeAppState>();
  /** When set, the next setApp throws this message (once). */
  failNext: string | undefined;
  /** Servers ("backend/server") the edge's own check sees down. */
  readonly down = new Set<string>();

  /** `steps`: every change, e.g. "edge shop: web=[r2-1-c3]"; may be shared with an engine. */
  constructor(readonly steps: string[] = []) {}

  async setApp(
    app: string,
    state: EdgeAppState,
    options: { onAdmitted?: AdmittedListener } = {},
  ): Promise<{ reloaded: boolean }> {
    if (this.failNext) {
      const message = this.failNext;
      this.failNext = undefined;
      this.steps.push(`edge ${app}: failed (${message})`);
      throw new Error(message);
    }
    const before = this.apps.get(app);
    const reloaded =
      JSON.stringify(before?.backends.map((b) => b.name).sort() ?? []) !==
      JSON.stringify(state.backends.map((b) => b.name).sort());
    this.apps.set(app, structuredClone(state));
    for (const backend of state.backends) {
      const had = new Set(
        before?.backends.find((b) => b.name === backend.name)?.servers.map((s) => s.name),
      );
      const fresh = backend.servers.filter((s) => !had.has(s.name)).map((s) => s.name);
      if (!reloaded && fresh.length > 0) options.onAdmitted?.(backend.name, fresh);
    }
    this.steps.push(`edge ${app}: ${describeState(state)}`);
    return { reloaded };
  }

  async removeApp(app: string): Promise<{ domains: string[] }> {
    const domains = Object.keys(this.apps.get(app)?.domains ?? {}).sort();
    this.apps.delete(app);
    this.steps.push(`edge ${app}: removed`);
    return { domains };
  }

  async serverStatus(backend: string): Promise<Map<string, EdgeServerStatus>> {
    for (const state of this.apps.values()) {
      const found = state.backends.find((b) => b.name === backend);
      if (!found) continue;
      return new Map(
        found.servers.map((s) => [
          s.name,
          this.down.has(`${backend}/${s.name}`)
            ? { up: false, admin: "ready", sessions: 0, weight: 1, check: "L4CON" }
            : { up: true, admin: "ready", sessions: 0, weight: 1, check: "L7OK" },
        ]),
      );
    }
    throw new NotFoundError(`the edge has no backend ${backend}`);
  }

  /** One app's state in short, e.g. "web=[r2-1-c3, r2-2-c4]". */
  describe(app: string): string | undefined {
    const state = this.apps.get(app);
    return state ? describeState(state) : undefined;
  }
}

function describeState(state: EdgeAppState): string {
  return (
    state.backends
      .map((b) => `${b.name.split("__").pop()}=[${b.servers.map((s) => s.name).join(", ")}]`)
      .join(" ") || "no backends"
  );
}
