import { type ConfigSnapshot, EMPTY_CONFIG, isSecret, secretName } from "../config-vars.js";
import { ConflictError } from "../errors.js";
import { SecretScrubber } from "../secrets/scrubber.js";
import type { Sealer } from "../secrets/sealer.js";
import type { SqliteDatabase } from "./database.js";

interface ConfigRow {
  service: string;
  key: string;
  value: string;
  secret: number;
}

/**
 * The config vars of every app, in the `app_config` table. Each change is
 * one transaction: a reader sees all of a `config:set` or none of it. A
 * secret's value is stored sealed with the server's key, bound to its app,
 * service and key; once secret, a var stays secret until it is unset.
 */
export class ConfigStore {
  #version = 0;
  /** Per app ("" for every app's together), rebuilt after each change. */
  readonly #scrubbers = new Map<string, { version: number; scrubber: SecretScrubber }>();

  constructor(
    private readonly db: SqliteDatabase,
    private readonly sealer?: Sealer,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * The app's config as it is now. A secret that does not open (sealed with
   * another key, or a damaged row) stops it with what to do; `tolerant`
   * leaves such a secret out instead, for the change that removes it.
   */
  snapshot(app: string, options: { tolerant?: boolean } = {}): ConfigSnapshot {
    const rows = this.db
      .prepare(
        "SELECT service, key, value, secret FROM app_config WHERE app = ? ORDER BY service, key",
      )
      .all(app) as ConfigRow[];
    const snapshot: ConfigSnapshot = { app: {}, services: {} };
    const secret: string[] = [];
    for (const row of rows) {
      const value = row.secret ? this.openRow(app, row, options.tolerant === true) : row.value;
      if (value === undefined) continue;
      if (row.secret) secret.push(secretName(row.key, row.service));
      if (row.service === "") {
        snapshot.app[row.key] = value;
        continue;
      }
      snapshot.services[row.service] = { ...snapshot.services[row.service], [row.key]: value };
    }
    return secret.length > 0 ? { ...snapshot, secret } : snapshot;
  }

  /** Sets `vars` app-wide, or for `service` alone; `secret` seals them (a secret stays one). */
  set(
    app: string,
    vars: Record<string, string>,
    service = "",
    options: { secret?: boolean } = {},
  ): void {
    const at = this.now().toISOString();
    const wasSecret = this.db.prepare(
      "SELECT secret FROM app_config WHERE app = ? AND service = ? AND key = ?",
    );
    const upsert = this.db.prepare(
      `INSERT INTO app_config (app, service, key, value, secret, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (app, service, key) DO UPDATE SET value = excluded.value, secret = excluded.secret, updated_at = excluded.updated_at`,
    );
    this.db.transaction(() => {
      for (const [key, value] of Object.entries(vars)) {
        const row = wasSecret.get(app, service, key) as { secret: number } | undefined;
        const secret = options.secret === true || row?.secret === 1;
        const stored = secret
          ? this.requireSealer().seal(value, context(app, { service, key }))
          : value;
        upsert.run(app, service, key, stored, secret ? 1 : 0, at);
      }
    })();
    this.#version++;
  }

  /**
   * Scrubs an app's secrets (secrets/scrubber.ts), or every app's when no
   * app is named (the admin's server log and events). What an app's runs
   * and answers show is scrubbed of its own secrets only: another app's
   * would tell its holder which values that app's secrets have.
   */
  scrubber(app?: string): SecretScrubber {
    const cached = this.#scrubbers.get(app ?? "");
    if (cached?.version === this.#version) return cached.scrubber;
    const scrubber = new SecretScrubber(this.allSecrets(app));
    this.#scrubbers.set(app ?? "", { version: this.#version, scrubber });
    return scrubber;
  }

  /**
   * The secrets of `app` (or of every app), named as they are scrubbed:
   * `KEY`, or `SERVICE/KEY`. One that does not open (a damaged row) is left
   * out and said once to `onDamaged`, so it cannot stop every log line.
   */
  allSecrets(app?: string): { name: string; value: string }[] {
    const rows = (
      app === undefined
        ? this.db.prepare("SELECT app, service, key, value FROM app_config WHERE secret = 1").all()
        : this.db
            .prepare("SELECT app, service, key, value FROM app_config WHERE secret = 1 AND app = ?")
            .all(app)
    ) as (ConfigRow & { app: string })[];
    const out: { name: string; value: string }[] = [];
    for (const row of rows) {
      try {
        out.push({
          name: secretName(row.key, row.service),
          value: this.requireSealer().open(row.value, context(row.app, row)),
        });
      } catch {
        // snapshot() of the app says which var is damaged, and unset still removes it.
      }
    }
    return out;
  }

  /** Removes `keys` (app-wide, or of `service`); returns the ones that were set. */
  unset(app: string, keys: readonly string[], service = ""): string[] {
    const remove = this.db.prepare(
      "DELETE FROM app_config WHERE app = ? AND service = ? AND key = ?",
    );
    const removed = this.db.transaction(() =>
      keys.filter((key) => remove.run(app, service, key).changes > 0),
    )();
    this.#version++;
    return removed;
  }

  /** Makes the app's config exactly `snapshot` (a rollback brings its release's config back). */
  replace(app: string, snapshot: ConfigSnapshot = EMPTY_CONFIG): void {
    const split = (vars: Record<string, string>, service: string) => {
      const entries = Object.entries(vars);
      const secret = entries.filter(([key]) => isSecret(snapshot, key, service));
      return {
        plain: Object.fromEntries(entries.filter(([key]) => !isSecret(snapshot, key, service))),
        secret: Object.fromEntries(secret),
      };
    };
    this.db.transaction(() => {
      this.db.prepare("DELETE FROM app_config WHERE app = ?").run(app);
      const scopes: [string, Record<string, string>][] = [
        ["", snapshot.app],
        ...Object.entries(snapshot.services),
      ];
      for (const [service, vars] of scopes) {
        const { plain, secret } = split(vars, service);
        this.set(app, plain, service);
        this.set(app, secret, service, { secret: true });
      }
    })();
  }

  /** Whether the var is stored, secret or not, without opening it. */
  has(app: string, key: string, service = ""): boolean {
    return (
      this.db
        .prepare("SELECT 1 FROM app_config WHERE app = ? AND service = ? AND key = ?")
        .get(app, service, key) !== undefined
    );
  }

  private openRow(app: string, row: ConfigRow, tolerant: boolean): string | undefined {
    try {
      return this.requireSealer().open(row.value, context(app, row));
    } catch (error) {
      if (tolerant) return undefined;
      const name = row.service ? `${row.key} of service ${row.service}` : row.key;
      throw new ConflictError(
        `the secret ${name} of ${app} does not open with this server's secret key (${(error as Error).message})`,
        `unset it (skiff config:unset ${app} ${row.key}${row.service ? ` --service ${row.service}` : ""}) and set it again`,
      );
    }
  }

  private requireSealer(): Sealer {
    if (!this.sealer) throw new Error("secret config vars need the server's secret key");
    return this.sealer;
  }
}

/** What a secret's sealed value is bound to: it opens only in its own row. */
function context(app: string, row: { service: string; key: string }): string {
  return `config:${app}:${row.service}:${row.key}`;
}
