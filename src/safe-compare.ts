import { createHash, timingSafeEqual } from "node:crypto";

/** sha256 of a string's UTF-8 bytes: every input becomes 32 bytes. */
function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/**
 * Compares a presented secret with the expected one in time that depends on
 * neither how many leading characters are right nor either length: both
 * sides are hashed to 32 bytes first, and `timingSafeEqual` (which throws on
 * unequal lengths, so it cannot be given the raw strings) compares those.
 * Equal digests mean equal strings, as sha256 has no known collisions.
 */
export function secretsEqual(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/**
 * Whether `presentedHash` (hex sha256) is one of `knownHashes`, comparing
 * against every one of them so the time spent says nothing about which (or
 * whether one) matched.
 */
export function isOneOfHashes(presentedHash: string, knownHashes: readonly string[]): boolean {
  let found = false;
  for (const known of knownHashes) {
    // The comparison comes first, so it runs for every hash even after a match.
    found = secretsEqual(presentedHash, known) || found;
  }
  return found;
}
