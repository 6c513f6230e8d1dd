import type { SqliteDatabase } from "./database.js";

/** What should run for one app: the live release and `skiff scale` overrides. */
export interface DesiredState {
  app: string;
  /** The release whose replicas run; undefined until a first deploy succeeded. */
  release?: number;
  /** Replicas per service set with `skiff scale`; services not named use the spec's count. */
  scale: Record<string, number>;
}

/**
 * The desired state the deployer and the reconciler work towards. A deploy
 * changes the live release only once the new replicas serve, so a crash at
 * any point leaves the last good release as the one to converge to.
 */
export class DeploymentStore {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly now: () => Date = () => new Date(),
  ) {}

  desired(app: string): DesiredState {
    const row = this.db.prepare("SELECT release_number FROM deployments WHERE app = ?").get(app) as
      | { release_number: number }
      | undefined;
    return {
      app,
      ...(row ? { release: row.release_number } : {}),
      scale: this.scale(app),
    };
  }

  /** Every app that has a live release. */
  deployedApps(): string[] {
    return (
      this.db.prepare("SELECT app FROM deployments ORDER BY app").all() as { app: string }[]
    ).map((r) => r.app);
  }

  /**
   * Makes `release` the live one: the previous live release becomes
   * superseded, in one transaction with the desired state.
   */
  setLive(app: string, release: number): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          "UPDATE releases SET status = 'superseded' WHERE app = ? AND status = 'live' AND number != ?",
        )
        .run(app, release);
      this.db
        .prepare("UPDATE releases SET status = 'live' WHERE app = ? AND number = ?")
        .run(app, release);
      this.db
        .prepare(
          "INSERT INTO deployments (app, release_number, updated_at) VALUES (?, ?, ?) ON CONFLICT (app) DO UPDATE SET release_number = excluded.release_number, updated_at = excluded.updated_at",
        )
        .run(app, release, this.now().toISOString());
    })();
  }

  /** A release whose deploy failed: it never served and is not a rollback target by default. */
  markFailed(app: string, release: number): void {
    this.db
      .prepare(
        "UPDATE releases SET status = 'failed' WHERE app = ? AND number = ? AND status != 'live'",
      )
      .run(app, release);
  }

  /** Forgets what should run for `app` (it is being destroyed). */
  forget(app: string): void {
    this.db.transaction(() => {
      this.db.prepare("DELETE FROM deployments WHERE app = ?").run(app);
      this.db.prepare("DELETE FROM scale WHERE app = ?").run(app);
    })();
  }

  scale(app: string): Record<string, number> {
    const rows = this.db
      .prepare("SELECT service, replicas FROM scale WHERE app = ? ORDER BY service")
      .all(app) as { service: string; replicas: number }[];
    return Object.fromEntries(rows.map((r) => [r.service, r.replicas]));
  }

  setScale(app: string, counts: Record<string, number>): void {
    const upsert = this.db.prepare(
      "INSERT INTO scale (app, service, replicas) VALUES (?, ?, ?) ON CONFLICT (app, service) DO UPDATE SET replicas = excluded.replicas",
    );
    this.db.transaction(() => {
      for (const [service, replicas] of Object.entries(counts)) upsert.run(app, service, replicas);
    })();
  }
}
