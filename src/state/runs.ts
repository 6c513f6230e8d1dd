import type { SqliteDatabase } from "./database.js";

export type RunStatus =
  | "queued"
  | "running"
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
  /** git-push | webhook:github | webhook:gitlab | webhook:gitea | upload */
  kind: string;
  commit?: string;
  ref?: string;
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
}

/**
 * Runs, stages, build steps and releases in SQLite. Synchronous calls; each
 * multi-row change is one transaction, so a crash never leaves half a run.
 */
export class RunStore {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly now: () => Date = () => new Date(),
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
          "INSERT INTO runs (app, number, trigger, commit_sha, ref, status, created_at) VALUES (?, ?, ?, ?, ?, 'queued', ?)",
        )
        .run(app, next + 1, trigger.kind, trigger.commit ?? null, trigger.ref ?? null, at);
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
      .prepare("SELECT * FROM runs WHERE status IN ('queued', 'running')")
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
  }): ReleaseRecord {
    const at = this.now().toISOString();
    const id = this.db.transaction(() => {
      const next =
        (
          this.db.prepare("SELECT MAX(number) AS n FROM releases WHERE app = ?").get(input.app) as {
            n: number | null;
          }
        ).n ?? 0;
      const result = this.db
        .prepare(
          "INSERT INTO releases (app, number, run_id, commit_sha, trigger, status, spec_json, created_at, rollback_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .run(
          input.app,
          next + 1,
          input.runId,
          input.commit ?? null,
          input.trigger,
          input.status,
          JSON.stringify(input.spec),
          at,
          input.rollbackOf ?? null,
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
      ...(row.release_number !== null ? { releaseNumber: row.release_number } : {}),
      stages,
    };
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
      spec: JSON.parse(row.spec_json),
      createdAt: row.created_at,
      ...(row.rollback_of !== null ? { rollbackOf: row.rollback_of } : {}),
      images,
    };
  }
}
