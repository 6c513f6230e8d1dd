import type { StatusResponse, VertexUpdate } from "./buildkit-status.js";
import { isInternalVertex } from "./request.js";

/** One vertex of the build, as Skiff records it. */
export interface BuildStep {
  /** The vertex digest. */
  id: string;
  /** e.g. `[2/4] RUN npm ci` */
  name: string;
  /** BuildKit's own work (loading the context, metadata, exporting), not a Dockerfile instruction. */
  internal: boolean;
  cached: boolean;
  /** ISO 8601 */
  startedAt?: string;
  completedAt?: string;
  durationMs?: number;
  error?: string;
}

/** Progress of a build, emitted as it happens. */
export type BuildEvent =
  | { type: "step"; step: BuildStep }
  | { type: "log"; stepId: string; stream: "stdout" | "stderr"; text: string }
  | { type: "warning"; stepId: string; text: string };

export type BuildEventHandler = (event: BuildEvent) => void;

/** N of a `[N/M] ...` or `[stage N/M] ...` step name. */
function stepNumber(name: string): number {
  const match = /^\[(?:[^\]\s]+ )?(\d+)\/\d+\]/.exec(name);
  return match ? Number(match[1]) : Number.MAX_SAFE_INTEGER;
}

/** Lines of output kept per step, for the failure report. */
export const OUTPUT_TAIL_LINES = 50;

const utf8 = new TextDecoder("utf-8");

/**
 * Turns BuildKit status messages into step records and events. A vertex is
 * sent again each time it changes; an event goes out only when a step
 * starts, completes, or turns out cached. Steps keep the order in which
 * BuildKit first named them. Output is kept per step, its last lines only.
 */
export class StepRecorder {
  readonly #steps = new Map<string, BuildStep>();
  readonly #times = new Map<
    string,
    { started?: number | undefined; completed?: number | undefined }
  >();
  readonly #tails = new Map<string, { lines: string[]; partial: string }>();
  readonly #onEvent: BuildEventHandler;

  constructor(onEvent: BuildEventHandler = () => {}) {
    this.#onEvent = onEvent;
  }

  /** Applies one decoded StatusResponse. */
  apply(status: StatusResponse): void {
    for (const vertex of status.vertexes) this.#vertex(vertex);
    for (const log of status.logs) {
      const text = utf8.decode(log.msg);
      this.#keep(log.vertex, text);
      this.#onEvent({
        type: "log",
        stepId: log.vertex,
        stream: log.stream === 2 ? "stderr" : "stdout",
        text,
      });
    }
    for (const warning of status.warnings) {
      this.#onEvent({ type: "warning", stepId: warning.vertex, text: warning.short });
    }
  }

  /**
   * Every step so far, as copies, in the order BuildKit first named them,
   * except that Dockerfile steps are put in their `[N/M]` order: BuildKit
   * names vertexes as its solver reaches them, and `[1/3] FROM` may come
   * after `[2/3] COPY`. Internal steps keep their places.
   */
  steps(): BuildStep[] {
    const all = [...this.#steps.values()].map((step) => ({ ...step }));
    const slots = all.flatMap((step, index) => (step.internal ? [] : [index]));
    const ordered = slots
      .map((index) => all[index] as BuildStep)
      .sort((a, b) => stepNumber(a.name) - stepNumber(b.name));
    slots.forEach((slot, i) => {
      all[slot] = ordered[i] as BuildStep;
    });
    return all;
  }

  /** The step that failed: the first non-internal one with an error, else any with an error. */
  failedStep(): BuildStep | undefined {
    const failed = this.steps().filter((step) => step.error !== undefined);
    return failed.find((step) => !step.internal) ?? failed[0];
  }

  /** The last `OUTPUT_TAIL_LINES` lines a step printed. */
  output(stepId: string): string[] {
    const tail = this.#tails.get(stepId);
    if (!tail) return [];
    const lines = tail.partial ? [...tail.lines, tail.partial] : [...tail.lines];
    return lines.slice(-OUTPUT_TAIL_LINES);
  }

  #vertex(vertex: VertexUpdate): void {
    const previous = this.#steps.get(vertex.digest);
    // Each update carries the whole vertex; keep what an odd partial one leaves out.
    const started = vertex.started ?? this.#times.get(vertex.digest)?.started;
    const completed = vertex.completed ?? this.#times.get(vertex.digest)?.completed;
    this.#times.set(vertex.digest, { started, completed });
    const step: BuildStep = {
      id: vertex.digest,
      name: vertex.name || previous?.name || vertex.digest,
      internal: isInternalVertex(vertex.name || previous?.name || ""),
      cached: vertex.cached || previous?.cached === true,
    };
    if (started !== undefined) step.startedAt = new Date(started).toISOString();
    if (completed !== undefined) step.completedAt = new Date(completed).toISOString();
    if (started !== undefined && completed !== undefined) step.durationMs = completed - started;
    const error = vertex.error ?? previous?.error;
    if (error !== undefined) step.error = error;
    this.#steps.set(vertex.digest, step);

    const changed =
      previous === undefined
        ? step.startedAt !== undefined || step.cached || step.error !== undefined
        : (step.startedAt !== undefined && previous.startedAt === undefined) ||
          (step.completedAt !== undefined && previous.completedAt === undefined) ||
          (step.cached && !previous.cached) ||
          (step.error !== undefined && previous.error === undefined);
    if (changed) this.#onEvent({ type: "step", step: { ...step } });
  }

  #keep(stepId: string, text: string): void {
    let tail = this.#tails.get(stepId);
    if (!tail) {
      tail = { lines: [], partial: "" };
      this.#tails.set(stepId, tail);
    }
    const parts = (tail.partial + text).split(/\r?\n/);
    tail.partial = parts.pop() ?? "";
    tail.lines.push(...parts);
    if (tail.lines.length > OUTPUT_TAIL_LINES)
      tail.lines.splice(0, tail.lines.length - OUTPUT_TAIL_LINES);
  }
}
