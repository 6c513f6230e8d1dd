import { type ConfigSnapshot, EMPTY_CONFIG } from "../config-vars.js";
import type { SqliteDatabase } from "./database.js";

interface ConfigRow {
  service: string;
  key: string;
  value: string;
}

/**
 * The config vars of every app, in the `app_config` table. Each change is
 * one transaction: a reader sees all of a `config:set` or none of it.
 */
export class ConfigStore {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The app's config as it is now. */
  snapshot(app: string): ConfigSnapshot {
    const rows = this.db
      .prepare("SELECT service, key, value FROM app_config WHERE app = ? ORDER BY service, key")
      .all(app) as ConfigRow[];
    const snapshot: ConfigSnapshot = { app: {}, services: {} };
    for (const row of rows) {
      if (row.service === "") {
        snapshot.app[row.key] = row.value;
        continue;
      }
      snapshot.services[row.service] = { ...snapshot.services[row.service], [row.key]: row.value };
    }
    return snapshot;
  }

  /** Sets `vars` app-wide, or for `service` alone. */
  set(app: string, vars: Record<string, string>, service = ""): void {
    const at = this.now().toISOString();
    const upsert = this.db.prepare(
      `INSERT INTO app_config (app, service, key, value, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (app, service, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
    );
    this.db.transaction(() => {
      for (const [key, value] of Object.entries(vars)) upsert.run(app, service, key, value, at);
    })();
  }

  /** Removes `keys` (app-wide, or of `service`); returns the ones that were set. */
  unset(app: string, keys: readonly string[], service = ""): string[] {
    const remove = this.db.prepare(
      "DELETE FROM app_config WHERE app = ? AND service = ? AND key = ?",
    );
    return this.db.transaction(() =>
      keys.filter((key) => remove.run(app, service, key).changes > 0),
    )();
  }

  /** Makes the app's config exactly `snapshot` (a rollback brings its release's config back). */
  replace(app: string, snapshot: ConfigSnapshot = EMPTY_CONFIG): void {
    this.db.transaction(() => {
      this.db.prepare("DELETE FROM app_config WHERE app = ?").run(app);
      this.set(app, snapshot.app);
      for (const [service, vars] of Object.entries(snapshot.services)) this.set(app, vars, service);
    })();
  }
}
