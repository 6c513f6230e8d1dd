import { createHash, randomBytes } from "node:crypto";
import { secretsEqual } from "../safe-compare.js";
import type { SqliteDatabase } from "./database.js";

/** What a token may do, each scope including the one before: read < deploy < admin. */
export type TokenScope = "read" | "deploy" | "admin";
export const TOKEN_SCOPES: readonly TokenScope[] = ["read", "deploy", "admin"];

/** Who a request comes from: a named token, or the admin token ("admin"). */
export interface Principal {
  name: string;
  scope: TokenScope;
  /** The one app the token is for; absent: every app. */
  app?: string;
}

/** A token as listed: never its value, never its hash. */
export interface TokenRecord {
  name: string;
  scope: TokenScope;
  app?: string;
  createdAt: string;
  expiresAt?: string;
  lastUsedAt?: string;
}

interface TokenRow {
  name: string;
  token_hash: string;
  scope: TokenScope;
  app: string | null;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
}

/** sha256 hex of a token: the only form of it Skiff stores. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** A fresh token: 32 random bytes, prefixed so it is recognisable in a leaked-secret scan. */
export function newToken(): string {
  return `skiff_${randomBytes(32).toString("base64url")}`;
}

/** A token's last use is written at most this often: not a database write per request. */
const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * Named tokens in the `tokens` table. The value is shown once, when it is
 * made; only its sha256 is kept. A presented token is compared with every
 * stored hash in constant time, and one past its expiry is no token.
 */
export class TokenStore {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Makes a token; the answer holds its value, which nothing keeps. */
  create(input: { name: string; scope: TokenScope; app?: string; lifetimeMs?: number }): {
    token: string;
    record: TokenRecord;
  } {
    const token = newToken();
    const now = this.now();
    this.db
      .prepare(
        "INSERT INTO tokens (name, token_hash, scope, app, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
      )
      .run(
        input.name,
        hashToken(token),
        input.scope,
        input.app ?? null,
        now.toISOString(),
        input.lifetimeMs !== undefined
          ? new Date(now.getTime() + input.lifetimeMs).toISOString()
          : null,
      );
    return { token, record: this.get(input.name) as TokenRecord };
  }

  get(name: string): TokenRecord | undefined {
    const row = this.db.prepare("SELECT * FROM tokens WHERE name = ?").get(name) as
      | TokenRow
      | undefined;
    return row ? toRecord(row) : undefined;
  }

  list(): TokenRecord[] {
    return (this.db.prepare("SELECT * FROM tokens ORDER BY name").all() as TokenRow[]).map(
      toRecord,
    );
  }

  /** Removes a token; it stops working at once. Returns whether it existed. */
  revoke(name: string): boolean {
    return this.db.prepare("DELETE FROM tokens WHERE name = ?").run(name).changes > 0;
  }

  /** The principal a presented token stands for, or undefined (unknown, expired). */
  authenticate(presented: string): Principal | undefined {
    const hash = hashToken(presented);
    const rows = this.db.prepare("SELECT * FROM tokens").all() as TokenRow[];
    let row: TokenRow | undefined;
    for (const candidate of rows) {
      // Every hash is compared, after a match too: the time says nothing about which matched.
      if (secretsEqual(hash, candidate.token_hash)) row = candidate;
    }
    if (!row) return undefined;
    const now = this.now();
    if (row.expires_at !== null && Date.parse(row.expires_at) <= now.getTime()) return undefined;
    if (
      row.last_used_at === null ||
      now.getTime() - Date.parse(row.last_used_at) >= LAST_USED_RESOLUTION_MS
    ) {
      this.db
        .prepare("UPDATE tokens SET last_used_at = ? WHERE name = ?")
        .run(now.toISOString(), row.name);
    }
    return { name: row.name, scope: row.scope, ...(row.app !== null ? { app: row.app } : {}) };
  }
}

function toRecord(row: TokenRow): TokenRecord {
  return {
    name: row.name,
    scope: row.scope,
    ...(row.app !== null ? { app: row.app } : {}),
    createdAt: row.created_at,
    ...(row.expires_at !== null ? { expiresAt: row.expires_at } : {}),
    ...(row.last_used_at !== null ? { lastUsedAt: row.last_used_at } : {}),
  };
}
