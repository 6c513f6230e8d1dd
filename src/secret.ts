import { inspect } from "node:util";

const REDACTED = "[redacted]";

/**
 * A value that must never reach a log, an error message or a JSON response:
 * a password, a token, a webhook secret. It redacts itself wherever JavaScript
 * turns it into text (String(), template strings, JSON.stringify,
 * util.inspect/console.log), so only code that calls `reveal()` on purpose
 * sees it. Same idea as Kamal's `Kamal::Utils::Sensitive`.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The real value; call it only where the value leaves for its destination (a header, a file). */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `Secret(${REDACTED})`;
  }
}
