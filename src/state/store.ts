import { randomBytes } from "node:crypto";
import { isSealed, type Sealer } from "../secrets/sealer.js";
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

/** How long a webhook delivery is remembered: longer than any forge retries one (GitHub: 3 days of manual redelivery). */
export const DELIVERY_RETENTION_DAYS = 30;
/** At most this many deliveries are remembered per app, however many arrive in the retention window. */
export const DELIVERY_RETENTION_COUNT = 1000;

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
  private scrub: (text: string) => string = (text) => text;
  private sealer: Sealer | undefined;

  constructor(
    readonly db: SqliteDatabase,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Every event's message goes through `scrub` first (secrets/scrubber.ts): no secret reaches an event. */
  scrubEventsWith(scrub: (text: string) => string): void {
    this.scrub = scrub;
  }

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

  /** Every stored admin token hash (hex sha256), for a comparison that does not stop at the first match. */
  adminTokenHashes(): string[] {
    return (
      this.db.prepare("SELECT token_hash FROM admin_tokens").all() as { token_hash: string }[]
    ).map((row) => row.token_hash);
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

  /**
   * The app's webhook secret if one was ever created, without creating it:
   * webhooks to an app whose operator never asked for the secret cannot be
   * verified, so they are refused before their body is read.
   */
  existingWebhookSecret(name: string): string | undefined {
    const row = this.db.prepare("SELECT webhook_secret FROM apps WHERE name = ?").get(name) as
      | { webhook_secret: string | null }
      | undefined;
    const stored = row?.webhook_secret ?? undefined;
    if (stored === undefined || !isSealed(stored)) return stored;
    if (!this.sealer)
      throw new Error(`the webhook secret of ${name} is sealed, and this store has no secret key`);
    return this.sealer.open(stored, webhookContext(name));
  }

  /**
   * Seals webhook secrets from now on (secrets/sealer.ts); one stored
   * before in the clear is sealed when it is next read.
   */
  sealWith(sealer: Sealer): void {
    this.sealer = sealer;
    const rows = this.db
      .prepare("SELECT name, webhook_secret FROM apps WHERE webhook_secret IS NOT NULL")
      .all() as { name: string; webhook_secret: string }[];
    const update = this.db.prepare("UPDATE apps SET webhook_secret = ? WHERE name = ?");
    for (const row of rows) {
      if (!isSealed(row.webhook_secret)) {
        update.run(sealer.seal(row.webhook_secret, webhookContext(row.name)), row.name);
      }
    }
  }

  /** The app's webhook secret, created on first use (it signs what forges send). */
  webhookSecret(name: string): string | undefined {
    const row = this.db.prepare("SELECT webhook_secret FROM apps WHERE name = ?").get(name) as
      | { webhook_secret: string | null }
      | undefined;
    if (!row) return undefined;
    if (row.webhook_secret) return this.existingWebhookSecret(name);
    const secret = randomBytes(24).toString("base64url");
    const stored = this.sealer ? this.sealer.seal(secret, webhookContext(name)) : secret;
    this.db
      .prepare("UPDATE apps SET webhook_secret = ? WHERE name = ? AND webhook_secret IS NULL")
      .run(stored, name);
    return this.webhookSecret(name);
  }

  // --- webhook deliveries -----------------------------------------------

  /** Whether any of `keys` (a delivery id, a body digest) names a delivery already acted on. */
  isKnownDelivery(app: string, keys: readonly string[]): boolean {
    const known = this.db.prepare(
      "SELECT 1 FROM webhook_deliveries WHERE app = ? AND delivery_key = ?",
    );
    return keys.some((key) => known.get(app, key) !== undefined);
  }

  /**
   * Remembers a delivery under each of `keys`, then forgets what is older
   * than DELIVERY_RETENTION_DAYS or beyond the app's newest
   * DELIVERY_RETENTION_COUNT keys, so the table stays small however many
   * deliveries arrive.
   */
  rememberDelivery(app: string, keys: readonly string[]): void {
    const now = this.now();
    const cutoff = new Date(now.getTime() - DELIVERY_RETENTION_DAYS * 86_400_000).toISOString();
    this.db.transaction(() => {
      const insert = this.db.prepare(
        "INSERT OR IGNORE INTO webhook_deliveries (app, delivery_key, received_at) VALUES (?, ?, ?)",
      );
      for (const key of keys) insert.run(app, key, now.toISOString());
      this.db.prepare("DELETE FROM webhook_deliveries WHERE received_at < ?").run(cutoff);
      this.db
        .prepare(
          `DELETE FROM webhook_deliveries WHERE app = ? AND rowid NOT IN (
             SELECT rowid FROM webhook_deliveries WHERE app = ?
             ORDER BY received_at DESC, rowid DESC LIMIT ?)`,
        )
        .run(app, app, DELIVERY_RETENTION_COUNT);
    })();
  }

  deleteApp(name: string): boolean {
    return this.db.prepare("DELETE FROM apps WHERE name = ?").run(name).changes > 0;
  }

  // --- the secret key's check value (secrets/secret-key.ts) ---------------

  keyCheck(): string | undefined {
    const row = this.db.prepare("SELECT key_check FROM secret_key WHERE id = 1").get() as
      | { key_check: string }
      | undefined;
    return row?.key_check;
  }

  setKeyCheck(sealed: string): void {
    this.db
      .prepare(
        "INSERT INTO secret_key (id, key_check) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET key_check = excluded.key_check",
      )
      .run(sealed);
  }

  /** Whether anything sealed is stored: a secret config var, or a release's sealed columns. */
  hasSealedValues(): boolean {
    return (
      this.db.prepare("SELECT 1 FROM app_config WHERE secret = 1 LIMIT 1").get() !== undefined ||
      this.db.prepare("SELECT 1 FROM apps WHERE webhook_secret LIKE 'sealed:%' LIMIT 1").get() !==
        undefined ||
      this.db.prepare("SELECT 1 FROM releases WHERE spec_json LIKE 'sealed:%' LIMIT 1").get() !==
        undefined
    );
  }

  // --- platform events ----------------------------------------------------

  recordEvent(component: string, kind: string, text: string): PlatformEvent {
    const message = this.scrub(text);
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

/** What an app's sealed webhook secret is bound to. */
function webhookContext(app: string): string {
  return `webhook:${app}`;
}
