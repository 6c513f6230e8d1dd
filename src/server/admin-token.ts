import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { Store } from "../state/store.js";
import { isOneOfHashes } from "./safe-compare.js";

/** sha256 hex of a token: the only form of it Skiff stores. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** A fresh admin token: 32 random bytes, prefixed so it is recognisable in a leaked-secret scan. */
export function newToken(): string {
  return `skiff_${randomBytes(32).toString("base64url")}`;
}

/**
 * Makes sure an admin token exists. On first start it is written once to
 * `file` with mode 0600 and only its hash goes to the database. A token file
 * left from an earlier database (state restored or deleted) is adopted
 * rather than replaced, so scripts holding it keep working.
 * Returns whether a new token was created.
 */
export function ensureAdminToken(
  store: Store,
  file: string,
): { created: boolean; missing?: boolean } {
  if (existsSync(file)) {
    const token = readFileSync(file, "utf8").trim();
    if (token) {
      store.addAdminTokenHash(hashToken(token));
      return { created: false };
    }
  }
  if (store.hasAdminToken()) {
    // The hash exists but the file is gone: the token cannot be recovered, and
    // writing a new one silently would lock out whoever still holds the old one.
    return { created: false, missing: true };
  }
  const token = newToken();
  // An empty file (a failed earlier write) is replaced; otherwise `wx` fails
  // if another process wrote the file first, so two starts never race.
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: existsSync(file) ? "w" : "wx" });
  store.addAdminTokenHash(hashToken(token));
  return { created: true };
}

/**
 * Checks a presented bearer token: its sha256 is compared with every stored
 * hash in constant time (not looked up by value, whose index walk could take
 * time that depends on how much of the hash matched).
 */
export function isValidToken(store: Store, presented: string | undefined): boolean {
  if (!presented) return false;
  return isOneOfHashes(hashToken(presented), store.adminTokenHashes());
}

/** Pulls the token from an `Authorization: Bearer …` header. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
