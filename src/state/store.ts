import { randomBytes } from "node:crypto";
import type { SqliteDatabase } from "./database.js";
import { schemaVersion } from "./database.js";

export interface AppRecord {
  name: string;
  deployBranch: string;
  /** Where webhooks make Skiff fetch commits from. */
  repoUrl?: string;
  createdAt: string;
}

export interface PlatformEvent {
  id: number;
  at: string;
  component: string;
  kind: string;
  message: string;
}

interface AppRow {
  name: string;
  deploy_branch: string;
  repo_url: string | null;
  created_at: string;
}

/**
 * All state Skiff keeps, behind one interface. One SQLite implementation;
 * tests use a real migrated database in a temp dir or `:memory:`.
 * Calls are synchronous (better-sqlite3) and safe from any request handler.
 */
export class Store {
  constructor(
    readonly db: SqliteDatabase,
    private readonly now: () => Date = () => new Date(),
  ) {}

  schemaVersion(): number {
    return schemaVersion(this.db);
  }

  sqliteVersion(): string {
    return (this.db.prepare("SELECT sqlite_version() AS v").get() as { v: string }).v;
  }

  // --- admin tokens -------------------------------------------------------

  hasAdminToken(): boolean {
    return this.db.prepare("SELECT 1 FROM admin_tokens LIMIT 1").get() !== undefined;
  }

  addAdminTokenHash(tokenHash: string): void {
    this.db
      .prepare("INSERT OR IGNORE INTO admin_tokens (token_hash, created_at) VALUES (?, ?)")
      .run(tokenHash, this.now().toISOString());
  }

  isAdminTokenHash(tokenHash: string): boolean {
    return (
      this.db.prepare("SELECT 1 FROM admin_tokens WHERE token_hash = ?").get(tokenHash) !==
      undefined
    );
  }

  // --- apps ---------------------------------------------------------------

  /** Inserts an app; returns false when the name is taken. */
  createApp(name: string): AppRecord | undefined {
    const createdAt = this.now().toISOString();
    const result = this.db
      .prepare("INSERT OR IGNORE INTO apps (name, created_at) VALUES (?, ?)")
      .run(name, createdAt);
    if (result.changes === 0) return undefined;
    return { name, deployBranch: "main", createdAt };
  }

  getApp(name: string): AppRecord | undefined {
    const row = this.db.prepare("SELECT * FROM apps WHERE name = ?").get(name) as
      | AppRow
      | undefined;
    return row ? toApp(row) : undefined;
  }

  listApps(): AppRecord[] {
    return (this.db.prepare("SELECT * FROM apps ORDER BY name").all() as AppRow[]).map(toApp);
  }

  /** Changes an app's settings; undefined fields stay as they are. */
  updateApp(name: string, changes: { deployBranch?: string; repoUrl?: string | null }): void {
    if (changes.deployBranch !== undefined) {
      this.db
        .prepare("UPDATE apps SET deploy_branch = ? WHERE name = ?")
        .run(changes.deployBranch, name);
    }
    if (changes.repoUrl !== undefined) {
      this.db.prepare("UPDATE apps SET repo_url = ? WHERE name = ?").run(changes.repoUrl, name);
    }
  }

  /** The app's webhook secret, created on first use (it signs what forges send). */
  webhookSecret(name: string): string | undefined {
    const row = this.db.prepare("SELECT webhook_secret FROM apps WHERE name = ?").get(name) as
      | { webhook_secret: string | null }
      | undefined;
    if (!row) return undefined;
    if (row.webhook_secret) return row.webhook_secret;
    const secret = randomBytes(24).toString("base64url");
    this.db
      .prepare("UPDATE apps SET webhook_secret = ? WHERE name = ? AND webhook_secret IS NULL")
      .run(secret, name);
    return this.webhookSecret(name);
  }

  deleteApp(name: string): boolean {
    return this.db.prepare("DELETE FROM apps WHERE name = ?").run(name).changes > 0;
  }

  // --- platform events ----------------------------------------------------

  recordEvent(component: string, kind: string, message: string): PlatformEvent {
    const at = this.now().toISOString();
    const result = this.db
      .prepare("INSERT INTO events (at, component, kind, message) VALUES (?, ?, ?, ?)")
      .run(at, component, kind, message);
    return { id: Number(result.lastInsertRowid), at, component, kind, message };
  }

  /** Newest first. */
  listEvents(options: { limit?: number; component?: string } = {}): PlatformEvent[] {
    const limit = options.limit ?? 100;
    const rows = options.component
      ? this.db
          .prepare("SELECT * FROM events WHERE component = ? ORDER BY id DESC LIMIT ?")
          .all(options.component, limit)
      : this.db.prepare("SELECT * FROM events ORDER BY id DESC LIMIT ?").all(limit);
    return rows as PlatformEvent[];
  }
}

function toApp(row: AppRow): AppRecord {
  return {
    name: row.name,
    deployBranch: row.deploy_branch,
    ...(row.repo_url ? { repoUrl: row.repo_url } : {}),
    createdAt: row.created_at,
  };
}
