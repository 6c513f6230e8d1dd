import { EventEmitter } from "node:events";
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type NamedSecret, NO_SECRETS, type SecretScrubber } from "../secrets/scrubber.js";
import type { RunStatus, StageName, StageStatus } from "../state/runs.js";

/** One thing that happened in a run, as the pusher, the CLI and the dashboard see it. */
export type RunEvent =
  | { seq: number; at: string; type: "run"; status: RunStatus; reason?: string }
  | {
      seq: number;
      at: string;
      type: "stage";
      stage: StageName;
      status: StageStatus;
      durationMs?: number;
    }
  | { seq: number; at: string; type: "log"; stage: StageName; text: string; service?: string };

export type RunEventInput =
  | { type: "run"; status: RunStatus; reason?: string }
  | { type: "stage"; stage: StageName; status: StageStatus; durationMs?: number }
  | { type: "log"; stage: StageName; text: string; service?: string };

const FINAL: readonly RunStatus[] = [
  "succeeded",
  "failed",
  "cancelled",
  "superseded",
  "interrupted",
];

/** A run file's mode when it is created (appends to an existing file keep its mode). */
const RUN_FILE = { mode: 0o600 } as const;

/** Where a run's files live: its event journal and one plain log per stage. */
export function runDir(runsRoot: string, app: string, number: number): string {
  return join(runsRoot, app, String(number));
}

/**
 * A run's event journal: every event is appended to `events.jsonl` (so a
 * stream can replay from the start after a restart) and to its stage's plain
 * log, then handed to live subscribers. Appends are synchronous, so the order
 * on disk is the order subscribers see.
 */
export class RunEvents {
  private readonly emitter = new EventEmitter();
  private seq = 0;
  private finished = false;
  readonly dir: string;
  /** The secrets every event is scrubbed of: the apps' config secrets, then this run's own. */
  private base: () => SecretScrubber = () => NO_SECRETS;
  private own: NamedSecret[] = [];
  private combined: { base: SecretScrubber; scrubber: SecretScrubber } | undefined;

  constructor(
    runsRoot: string,
    readonly app: string,
    readonly number: number,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.dir = runDir(runsRoot, app, number);
    // Run logs quote build output and config: the owner's only (as $SKIFF_HOME is).
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.emitter.setMaxListeners(0);
    this.seq = readJournal(this.dir).length;
  }

  /** Scrubs every event of `base()`'s secrets (read at each event, so a new secret counts at once). */
  scrubWith(base: () => SecretScrubber): void {
    this.base = base;
    this.combined = undefined;
  }

  /** Secrets only this run knows (its Compose secrets, a rollback target's config). */
  addSecrets(secrets: readonly NamedSecret[]): void {
    if (secrets.length === 0) return;
    this.own = [...this.own, ...secrets];
    this.combined = undefined;
  }

  /** `text` with every secret this run knows replaced. */
  scrub(text: string): string {
    const base = this.base();
    if (this.combined?.base !== base) {
      this.combined = { base, scrubber: base.with(this.own) };
    }
    return this.combined.scrubber.scrub(text);
  }

  emit(input: RunEventInput): RunEvent {
    const scrubbed =
      "text" in input && typeof input.text === "string"
        ? { ...input, text: this.scrub(input.text) }
        : "reason" in input && typeof input.reason === "string"
          ? { ...input, reason: this.scrub(input.reason) }
          : input;
    const event = { seq: ++this.seq, at: this.now().toISOString(), ...scrubbed } as RunEvent;
    appendFileSync(join(this.dir, "events.jsonl"), `${JSON.stringify(event)}\n`, RUN_FILE);
    if (event.type === "log") {
      const prefix = event.service ? `[${event.service}] ` : "";
      appendFileSync(join(this.dir, `${event.stage}.log`), `${prefix}${event.text}\n`, RUN_FILE);
    }
    if (event.type === "run" && FINAL.includes(event.status)) this.finished = true;
    this.emitter.emit("event", event);
    return event;
  }

  /** Calls `listener` for each new event; returns the unsubscribe function. */
  subscribe(listener: (event: RunEvent) => void): () => void {
    this.emitter.on("event", listener);
    return () => this.emitter.off("event", listener);
  }

  get isFinished(): boolean {
    return this.finished;
  }
}

/** Every event recorded for a run, oldest first. */
export function readJournal(dir: string): RunEvent[] {
  const file = join(dir, "events.jsonl");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as RunEvent);
}

/** A stage's plain-text log, or "" when the stage wrote nothing. */
export function readStageLog(dir: string, stage: StageName): string {
  const file = join(dir, `${stage}.log`);
  return existsSync(file) ? readFileSync(file, "utf8") : "";
}

export function isFinalEvent(event: RunEvent): boolean {
  return event.type === "run" && FINAL.includes(event.status);
}
