import { z } from "zod";
import type { ConfigSnapshot } from "../config-vars.js";
import { isSealed, type Sealer } from "../secrets/sealer.js";
import type { SqliteDatabase } from "./database.js";

export type RunStatus =
  | "queued"
  | "running"
  /** The deploy failed or was cancelled and is being undone; the run then ends failed or cancelled. */
  | "rolling-back"
  | "succeeded"
  | "failed"
  | "cancelled"
  | "superseded"
  | "interrupted";

export type StageStatus = "pending" | "running" | "succeeded" | "failed" | "skipped" | "cancelled";

/** The stages every run goes through, in order. */
export const STAGES = ["source", "build", "test", "publish", "deploy"] as const;
export type StageName = (typeof STAGES)[number];

export const FINISHED_RUN_STATUSES: readonly RunStatus[] = [
  "succeeded",
  "failed",
  "cancelled",
  "superseded",
  "interrupted",
];

export interface RunTrigger {
  /** git-push | webhook:github | webhook:gitlab | webhook:gitea | upload | rollback | config */
  kind: string;
  commit?: string;
  ref?: string;
  /** Who started it: a token's name, "admin" for the admin token, "webhook:github" for a delivery. */
  actor?: string;
}

export interface StageRecord {
  name: StageName;
  status: StageStatus;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
}

export interface BuildStepRecord {
  service: string;
  position: number;
  name: string;
  cached: boolean;
  durationMs?: number;
  error?: string;
}

export interface RunRecord {
  id: number;
  app: string;
  number: number;
  trigger: string;
  commit?: string;
  ref?: string;
  status: RunStatus;
  reason?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  releaseNumber?: number;
  stages: StageRecord[];
  /** Who started it (RunTrigger.actor); absent on runs from before Skiff recorded it. */
  actor?: string;
}

export interface ReleaseImage {
  service: string;
  image: string;
  digest: string;
  /** Digest of the build's inputs; absent for an image Skiff did not build. */
  buildKey?: string;
}

export interface ReleaseRecord {
  id: number;
  app: string;
  number: number;
  runId?: number;
  commit?: string;
  trigger: string;
  status: string;
  spec: unknown;
  createdAt: string;
  /** Set on a rollback: the release whose images it runs again. */
  rollbackOf?: number;
  images: ReleaseImage[];
  /** The plan as stored (spec/plan-codec.ts); absent on releases recorded before plans were stored. */
  planJson?: string;
  /** serviceFingerprint per service; absent until computed for releases recorded before fingerprints. */
  fingerprints?: Record<string, string>;
  /** The app's config the release was made with; absent on releases recorded before config was stored. */
  config?: ConfigSnapshot;
  /** Who started the run that made it. */
  actor?: string;
}

interface RunRow {
  id: number;
  app: string;
  number: number;
  trigger: string;
  commit_sha: string | null;
  ref: string | null;
  status: RunStatus;
  reason: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  release_number: number | null;
  actor: string | null;
}

interface StageRow {
  name: StageName;
  status: StageStatus;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
}

interface ReleaseRow {
  id: number;
  app: string;
  number: number;
  run_id: number | null;
  commit_sha: string | null;
  trigger: string;
  status: string;
  spec_json: string;
  created_at: string;
  rollback_of: number | null;
  plan_json: string | null;
  fingerprints_json: string | null;
  config_json: string | null;
  actor: string | null;
}

/**
 * Runs, stages, build steps and releases in SQLite. Synchronous calls; each
 * multi-row change is one transaction, so a crash never leaves half a run.
 */
export class RunStore {
  /**
   * With a sealer, a new release's spec, plan and config are stored sealed:
   * interpolation and the config put secret values into all three.
   */
  constructor(
    private readonly db: SqliteDatabase,
    private readonly now: () => Date = () => new Date(),
    private readonly sealer?: Sealer,
  ) {}

  /** Creates a queued run with every stage pending. */
  createRun(app: string, trigger: RunTrigger): RunRecord {
    const at = this.now().toISOString();
    const id = this.db.transaction(() => {
      const next =
        (
          this.db.prepare("SELECT MAX(number) AS n FROM runs WHERE app = ?").get(app) as {
            n: number | null;
          }
        ).n ?? 0;
      const result = this.db
        .prepare(
          "INSERT INTO runs (app, number, trigger, commit_sha, ref, status, created_at, actor) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)",
        )
        .run(
          app,
          next + 1,
          trigger.kind,
          trigger.commit ?? null,
          trigger.ref ?? null,
          at,
          trigger.actor ?? null,
        );
      const runId = Number(result.lastInsertRowid);
      const insertStage = this.db.prepare(
        "INSERT INTO run_stages (run_id, position, name, status) VALUES (?, ?, ?, 'pending')",
      );
      for (const [position, name] of STAGES.entries()) insertStage.run(runId, position, name);
      return runId;
    })();
    return this.getRun(id) as RunRecord;
  }

  getRun(id: number): RunRecord | undefined {
    const row = this.db.prepare("SELECT * FROM runs WHERE id = ?").get(id) as RunRow | undefined;
    return row ? this.toRun(row) : undefined;
  }

  getRunByNumber(app: string, number: number): RunRecord | undefined {
    const row = this.db
      .prepare("SELECT * FROM runs WHERE app = ? AND number = ?")
      .get(app, number) as RunRow | undefined;
    return row ? this.toRun(row) : undefined;
  }

  /** Newest first. */
  listRuns(app: string, limit = 50): RunRecord[] {
    const rows = this.db
      .prepare("SELECT * FROM runs WHERE app = ? ORDER BY number DESC LIMIT ?")
      .all(app, limit) as RunRow[];
    return rows.map((row) => this.toRun(row));
  }

  setCommit(id: number, commit: string): void {
    this.db.prepare("UPDATE runs SET commit_sha = ? WHERE id = ?").run(commit, id);
  }

  startRun(id: number): void {
    this.db
      .prepare(
        "UPDATE runs SET status = 'running', started_at = ? WHERE id = ? AND status = 'queued'",
      )
      .run(this.now().toISOString(), id);
  }

  /** The run's deploy is being undone (shown until the run finishes). */
  markRollingBack(id: number): void {
    this.db
      .prepare("UPDATE runs SET status = 'rolling-back' WHERE id = ? AND status = 'running'")
      .run(id);
  }

  /** Ends a run; pending and running stages become skipped or cancelled. */
  finishRun(id: number, status: RunStatus, reason?: string, releaseNumber?: number): void {
    const at = this.now().toISOString();
    this.db.transaction(() => {
      this.db
        .prepare(
          "UPDATE runs SET status = ?, reason = ?, finished_at = ?, release_number = COALESCE(?, release_number) WHERE id = ?",
        )
        .run(status, reason ?? null, at, releaseNumber ?? null, id);
      const leftover = status === "succeeded" || status === "failed" ? "skipped" : "cancelled";
      this.db
        .prepare(
          "UPDATE run_stages SET status = ?, finished_at = CASE WHEN started_at IS NULL THEN NULL ELSE ? END WHERE run_id = ? AND status IN ('pending', 'running')",
        )
        .run(leftover, at, id);
    })();
  }

  startStage(id: number, stage: StageName): void {
    this.db
      .prepare(
        "UPDATE run_stages SET status = 'running', started_at = ? WHERE run_id = ? AND name = ?",
      )
      .run(this.now().toISOString(), id, stage);
  }

  finishStage(id: number, stage: StageName, status: StageStatus): void {
    const at = this.now();
    const row = this.db
      .prepare("SELECT started_at FROM run_stages WHERE run_id = ? AND name = ?")
      .get(id, stage) as { started_at: string | null } | undefined;
    const duration = row?.started_at ? at.getTime() - new Date(row.started_at).getTime() : null;
    this.db
      .prepare(
        "UPDATE run_stages SET status = ?, finished_at = ?, duration_ms = ? WHERE run_id = ? AND name = ?",
      )
      .run(status, at.toISOString(), duration, id, stage);
  }

  recordBuildSteps(
    runId: number,
    service: string,
    steps: Omit<BuildStepRecord, "service">[],
  ): void {
    const insert = this.db.prepare(
      "INSERT OR REPLACE INTO build_steps (run_id, service, position, name, cached, duration_ms, error) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    this.db.transaction(() => {
      for (const step of steps) {
        insert.run(
          runId,
          service,
          step.position,
          step.name,
          step.cached ? 1 : 0,
          step.durationMs ?? null,
          step.error ?? null,
        );
      }
    })();
  }

  buildSteps(runId: number): BuildStepRecord[] {
    const rows = this.db
      .prepare("SELECT * FROM build_steps WHERE run_id = ? ORDER BY service, position")
      .all(runId) as {
      service: string;
      position: number;
      name: string;
      cached: number;
      duration_ms: number | null;
      error: string | null;
    }[];
    return rows.map((r) => ({
      service: r.service,
      position: r.position,
      name: r.name,
      cached: r.cached === 1,
      ...(r.duration_ms !== null ? { durationMs: r.duration_ms } : {}),
      ...(r.error !== null ? { error: r.error } : {}),
    }));
  }

  /** Runs left queued or running by a server that stopped: none may stay "running" forever. */
  interruptUnfinished(reason: string): RunRecord[] {
    const rows = this.db
      .prepare("SELECT * FROM runs WHERE status IN ('queued', 'running', 'rolling-back')")
      .all() as RunRow[];
    for (const row of rows) this.finishRun(row.id, "interrupted", reason);
    return rows.map((row) => this.getRun(row.id) as RunRecord);
  }

  // --- releases -------------------------------------------------------------

  createRelease(input: {
    app: string;
    runId: number;
    commit?: string;
    trigger: string;
    spec: unknown;
    images: ReleaseImage[];
    status: string;
    /** The release whose images a rollback runs again. */
    rollbackOf?: number;
    /** The plan, encoded by spec/plan-codec.ts. */
    planJson?: string;
    fingerprints?: Record<string, string>;
    config?: ConfigSnapshot;
  }): ReleaseRecord {
    const at = this.now().toISOString();
    const id = this.db.transaction(() => {
      const next =
        (
          this.db.prepare("SELECT MAX(number) AS n FROM releases WHERE app = ?").get(input.app) as {
            n: number | null;
          }
        ).n ?? 0;
      const number = next + 1;
      const sealed = (column: string, text: string) =>
        this.sealer ? this.sealer.seal(text, releaseContext(input.app, number, column)) : text;
      const result = this.db
        .prepare(
          "INSERT INTO releases (app, number, run_id, commit_sha, trigger, status, spec_json, created_at, rollback_of, plan_json, fingerprints_json, config_json, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT actor FROM runs WHERE id = ?))",
        )
        .run(
          input.app,
          number,
          input.runId,
          input.commit ?? null,
          input.trigger,
          input.status,
          sealed("spec", JSON.stringify(input.spec)),
          at,
          input.rollbackOf ?? null,
          input.planJson !== undefined ? sealed("plan", input.planJson) : null,
          input.fingerprints ? JSON.stringify(input.fingerprints) : null,
          input.config ? sealed("config", JSON.stringify(input.config)) : null,
          input.runId,
        );
      const releaseId = Number(result.lastInsertRowid);
      const insertImage = this.db.prepare(
        "INSERT INTO release_images (release_id, service, image, digest, build_key) VALUES (?, ?, ?, ?, ?)",
      );
      for (const image of input.images)
        insertImage.run(
          releaseId,
          image.service,
          image.image,
          image.digest,
          image.buildKey ?? null,
        );
      return releaseId;
    })();
    return this.getRelease(id) as ReleaseRecord;
  }

  getReleaseByNumber(app: string, number: number): ReleaseRecord | undefined {
    const row = this.db
      .prepare("SELECT * FROM releases WHERE app = ? AND number = ?")
      .get(app, number) as ReleaseRow | undefined;
    return row ? this.toRelease(row) : undefined;
  }

  /** The number the next release of `app` will get (tags are written before the row). */
  nextReleaseNumber(app: string): number {
    const row = this.db.prepare("SELECT MAX(number) AS n FROM releases WHERE app = ?").get(app) as {
      n: number | null;
    };
    return (row.n ?? 0) + 1;
  }

  getRelease(id: number): ReleaseRecord | undefined {
    const row = this.db.prepare("SELECT * FROM releases WHERE id = ?").get(id) as
      | ReleaseRow
      | undefined;
    return row ? this.toRelease(row) : undefined;
  }

  /** Writes the fingerprints of a release recorded before they were stored (computed once, on first read). */
  setFingerprints(app: string, number: number, fingerprints: Record<string, string>): void {
    this.db
      .prepare(
        "UPDATE releases SET fingerprints_json = ? WHERE app = ? AND number = ? AND fingerprints_json IS NULL",
      )
      .run(JSON.stringify(fingerprints), app, number);
  }

  /** Newest first. */
  listReleases(app: string, limit = 50): ReleaseRecord[] {
    const rows = this.db
      .prepare("SELECT * FROM releases WHERE app = ? ORDER BY number DESC LIMIT ?")
      .all(app, limit) as ReleaseRow[];
    return rows.map((row) => this.toRelease(row));
  }

  /** The newest release whose images were published, for cache sources. */
  latestPublishedRelease(app: string): ReleaseRecord | undefined {
    const row = this.db
      .prepare(
        "SELECT * FROM releases WHERE app = ? AND status IN ('published', 'live') ORDER BY number DESC LIMIT 1",
      )
      .get(app) as ReleaseRow | undefined;
    return row ? this.toRelease(row) : undefined;
  }

  private toRun(row: RunRow): RunRecord {
    const stages = (
      this.db
        .prepare("SELECT * FROM run_stages WHERE run_id = ? ORDER BY position")
        .all(row.id) as StageRow[]
    ).map(
      (s): StageRecord => ({
        name: s.name,
        status: s.status,
        ...(s.started_at ? { startedAt: s.started_at } : {}),
        ...(s.finished_at ? { finishedAt: s.finished_at } : {}),
        ...(s.duration_ms !== null ? { durationMs: s.duration_ms } : {}),
      }),
    );
    return {
      id: row.id,
      app: row.app,
      number: row.number,
      trigger: row.trigger,
      ...(row.commit_sha ? { commit: row.commit_sha } : {}),
      ...(row.ref ? { ref: row.ref } : {}),
      status: row.status,
      ...(row.reason ? { reason: row.reason } : {}),
      createdAt: row.created_at,
      ...(row.started_at ? { startedAt: row.started_at } : {}),
      ...(row.finished_at ? { finishedAt: row.finished_at } : {}),
      ...(row.actor ? { actor: row.actor } : {}),
      ...(row.release_number !== null ? { releaseNumber: row.release_number } : {}),
      stages,
    };
  }

  /** A release column as stored: opened when it was sealed. */
  private opened(row: ReleaseRow, column: string, text: string): string {
    if (!isSealed(text)) return text;
    if (!this.sealer) {
      throw new Error(
        `release r${row.number} of ${row.app} is sealed, and this store has no secret key`,
      );
    }
    return this.sealer.open(text, releaseContext(row.app, row.number, column));
  }

  private toRelease(row: ReleaseRow): ReleaseRecord {
    const images = (
      this.db
        .prepare(
          "SELECT service, image, digest, build_key FROM release_images WHERE release_id = ? ORDER BY service",
        )
        .all(row.id) as {
        service: string;
        image: string;
        digest: string;
        build_key: string | null;
      }[]
    ).map(
      (i): ReleaseImage => ({
        service: i.service,
        image: i.image,
        digest: i.digest,
        ...(i.build_key ? { buildKey: i.build_key } : {}),
      }),
    );
    return {
      id: row.id,
      app: row.app,
      number: row.number,
      ...(row.run_id !== null ? { runId: row.run_id } : {}),
      ...(row.commit_sha ? { commit: row.commit_sha } : {}),
      trigger: row.trigger,
      status: row.status,
      spec: JSON.parse(this.opened(row, "spec", row.spec_json)),
      createdAt: row.created_at,
      ...(row.rollback_of !== null ? { rollbackOf: row.rollback_of } : {}),
      images,
      ...(row.plan_json !== null ? { planJson: this.opened(row, "plan", row.plan_json) } : {}),
      ...(row.fingerprints_json !== null
        ? { fingerprints: decodeFingerprints(row.fingerprints_json, row.app, row.number) }
        : {}),
      ...(row.actor ? { actor: row.actor } : {}),
      ...(row.config_json !== null
        ? {
            config: decodeConfig(this.opened(row, "config", row.config_json), row.app, row.number),
          }
        : {}),
    };
  }
}

const varsSchema = z.record(z.string(), z.string());
const configSchema = z.object({
  app: varsSchema,
  services: z.record(z.string(), varsSchema),
  secret: z.array(z.string()).optional(),
});

/** What a release column's sealed value is bound to. */
function releaseContext(app: string, number: number, column: string): string {
  return `release:${app}:r${number}:${column}`;
}

/** A release's stored config, checked: a damaged row fails here, not as a wrong environment. */
function decodeConfig(json: string, app: string, number: number): ConfigSnapshot {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    value = undefined;
  }
  const parsed = configSchema.safeParse(value);
  if (!parsed.success) {
    throw new Error(
      `release r${number} of ${app} has a damaged config snapshot (${parsed.error.issues[0]?.message ?? "invalid"}); deploy another release with skiff rollback or a push`,
    );
  }
  return parsed.data;
}

const fingerprintsSchema = z.record(z.string(), z.string().regex(/^[0-9a-f]{24}$/));

/** A release's stored fingerprints, checked: a damaged row fails here, not as a replaced replica. */
function decodeFingerprints(json: string, app: string, number: number): Record<string, string> {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    value = undefined;
  }
  const parsed = fingerprintsSchema.safeParse(value);
  if (!parsed.success) {
    throw new Error(
      `release r${number} of ${app} has damaged fingerprints (${parsed.error.issues[0]?.message ?? "invalid"}); redeploy it with skiff rollback or a push`,
    );
  }
  return parsed.data;
}
