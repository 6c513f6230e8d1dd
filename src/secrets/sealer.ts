import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/** What a sealed value starts with: the format's version, so a later one can be told apart. */
const PREFIX = "sealed:v1:";
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A sealed value that does not open: a different key, or damaged bytes. Never carries the value. */
export class UnsealError extends Error {}

/**
 * Seals values at rest with AES-256-GCM under the server's secret key: a
 * fresh 96-bit nonce per value, and the purpose (`context`, e.g.
 * "config:shop:DB_PASSWORD") bound in as associated data, so a sealed value
 * copied to another row does not open there. GCM's tag makes a wrong key or a
 * changed byte fail to open instead of yielding garbage.
 */
export class Sealer {
  readonly #key: Buffer;
  /** A short fingerprint of the key (not the key), to say which key sealed what. */
  readonly keyId: string;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error("the secret key must be 32 bytes");
    this.#key = Buffer.from(key);
    this.keyId = createHash("sha256")
      .update("skiff key id\0")
      .update(key)
      .digest("hex")
      .slice(0, 12);
  }

  seal(plain: string | Buffer, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(Buffer.from(context, "utf8"));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return PREFIX + Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64");
  }

  open(sealed: string, context: string): string {
    return this.openBytes(sealed, context).toString("utf8");
  }

  openBytes(sealed: string, context: string): Buffer {
    if (!isSealed(sealed)) throw new UnsealError(`${context}: not a sealed value`);
    const raw = Buffer.from(sealed.slice(PREFIX.length), "base64");
    if (raw.length < IV_BYTES + TAG_BYTES)
      throw new UnsealError(`${context}: the sealed value is cut short`);
    const decipher = createDecipheriv("aes-256-gcm", this.#key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(context, "utf8"));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    try {
      return Buffer.concat([
        decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new UnsealError(
        `${context} does not open with the secret key ${this.keyId}: it was sealed with another key, or its bytes changed`,
      );
    }
  }
}

/** Whether a stored text is a sealed value (else it is stored as it is). */
export function isSealed(text: string): boolean {
  return text.startsWith(PREFIX);
}
