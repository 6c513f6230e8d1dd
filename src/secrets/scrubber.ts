import { SECRET_MIN_LENGTH } from "../config-vars.js";
import { shortenedForMessage } from "../quoted-value.js";

/** A secret value, and the name it is shown under once scrubbed. */
export interface NamedSecret {
  name: string;
  value: string;
}

/**
 * Replaces every known secret value in a text with `[secret NAME]`: the
 * value itself, its base64 (standard and URL-safe, as an app or a tool
 * might print it), its URL encoding (a connection string), its JSON
 * escaping (a log line that quotes it), the first 57 characters a message
 * quotes of a long one, and each line of a multi-line
 * secret (logs arrive line by line). Longer forms go first, so a secret
 * that contains another is replaced whole.
 */
export class SecretScrubber {
  readonly #secrets: readonly NamedSecret[];
  readonly #forms: { text: string; name: string }[];

  constructor(secrets: readonly NamedSecret[]) {
    this.#secrets = secrets;
    const forms = new Map<string, string>();
    const add = (text: string, name: string) => {
      if (text.length >= SECRET_MIN_LENGTH && !forms.has(text)) forms.set(text, name);
    };
    for (const { name, value } of secrets) {
      add(value, name);
      const bytes = Buffer.from(value, "utf8");
      add(bytes.toString("base64"), name);
      add(bytes.toString("base64").replace(/=+$/, ""), name);
      add(bytes.toString("base64url"), name);
      add(encodeURIComponent(value), name);
      add(JSON.stringify(value).slice(1, -1), name);
      // The cut form a message quotes a long value in (quoted-value.ts), without its "...".
      if (value.length > 60) add(shortenedForMessage(value).slice(0, -3), name);
      for (const line of value.split(/\r?\n/)) add(line.trim(), name);
    }
    this.#forms = [...forms]
      .map(([text, name]) => ({ text, name }))
      .sort((a, b) => b.text.length - a.text.length);
  }

  /** Whether there is anything to scrub. */
  get empty(): boolean {
    return this.#forms.length === 0;
  }

  scrub(text: string): string {
    let out = text;
    for (const { text: form, name } of this.#forms) {
      if (out.includes(form)) out = out.split(form).join(`[secret ${name}]`);
    }
    return out;
  }

  /** A scrubber of this one's secrets and `more`. */
  with(more: readonly NamedSecret[]): SecretScrubber {
    return more.length === 0 ? this : new SecretScrubber([...this.#secrets, ...more]);
  }
}

export const NO_SECRETS = new SecretScrubber([]);

/**
 * `value` with `scrub` applied to every string in it, keys left alone: a
 * JSON answer stays JSON whatever a secret looks like (`true`, `null,`).
 */
export function scrubStrings<T>(value: T, scrub: (text: string) => string): T {
  if (typeof value === "string") return scrub(value) as T;
  if (Array.isArray(value)) return value.map((v) => scrubStrings(v, scrub)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, scrubStrings(v, scrub)]),
    ) as T;
  }
  return value;
}
