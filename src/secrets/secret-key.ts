import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { DependencyError } from "../errors.js";
import { Sealer, UnsealError } from "./sealer.js";

/** What the database keeps to tell whether a key file is the one its secrets were sealed with. */
export interface KeyCheckStore {
  /** A value sealed with the key the database's secrets are sealed with, if one was stored. */
  keyCheck(): string | undefined;
  setKeyCheck(sealed: string): void;
  /** Whether anything sealed is stored (a secret config var, a release made with one). */
  hasSealedValues(): boolean;
}

const CHECK_CONTEXT = "skiff secret key check";
const CHECK_TEXT = "skiff";

/**
 * The server's secret key: 32 random bytes, base64 in `file` (mode 0600),
 * written on first start. It seals every secret at rest (secrets/sealer.ts);
 * whoever holds the database without it holds no secret. A key file that
 * does not open the database's check value (another host's key, a new key
 * after the file was lost) stops the server with what to do: starting would
 * hand back ciphertext or lose secrets.
 */
export function loadSecretKey(file: string, store: KeyCheckStore): Sealer {
  let check = store.keyCheck();
  if (!existsSync(file)) {
    if (check !== undefined && store.hasSealedValues()) {
      throw new DependencyError(
        `the secret key file ${file} is missing, and this database holds secrets sealed with a key`,
        `put the key file back (from the backup of this $SKIFF_HOME) and start again; a new key would not open them`,
      );
    }
    writeFileSync(file, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600, flag: "wx" });
    // Nothing was sealed with the lost key: the new one takes its place.
    check = undefined;
  }
  chmodSync(file, 0o600);
  const key = Buffer.from(readFileSync(file, "utf8").trim(), "base64");
  if (key.length !== 32) {
    throw new DependencyError(
      `the secret key file ${file} does not hold a key (32 bytes in base64)`,
      "put the original key file back; if no secret was ever stored, delete it and Skiff writes a new one",
    );
  }
  const sealer = new Sealer(key);
  if (check === undefined) {
    store.setKeyCheck(sealer.seal(CHECK_TEXT, CHECK_CONTEXT));
    return sealer;
  }
  try {
    sealer.open(check, CHECK_CONTEXT);
  } catch (error) {
    if (!(error instanceof UnsealError)) throw error;
    throw new DependencyError(
      `the secret key in ${file} (key ${sealer.keyId}) is not the key this database's secrets were sealed with`,
      "put back the key file that belongs to this database (from the same backup); Skiff will not start with another key, so it never hands out ciphertext or loses a secret",
    );
  }
  return sealer;
}
