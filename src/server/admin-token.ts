import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { isOneOfHashes } from "../safe-compare.js";
import type { Store } from "../state/store.js";
import { hashToken, newToken, type Principal, type TokenStore } from "../state/tokens.js";

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

/** The admin token stands for this principal: every scope, every app. */
export const ADMIN: Principal = Object.freeze({ name: "admin", scope: "admin" });

/** Who a presented token is: the admin token, a named token (tokens:create), or nobody. */
export function authenticate(
  store: Store,
  tokens: TokenStore,
  presented: string | undefined,
): Principal | undefined {
  if (!presented) return undefined;
  if (isValidToken(store, presented)) return ADMIN;
  return tokens.authenticate(presented);
}

/** Pulls the token from an `Authorization: Bearer …` header. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
