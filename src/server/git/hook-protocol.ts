import { StringDecoder } from "node:string_decoder";

/**
 * The protocol between the pre-receive hook client and the Skiff server.
 * Imported by hook-client.ts, which runs inside every push: it must depend on
 * nothing but Node's built-ins.
 *
 * Request: `POST /internal/git/pre-receive`, `Authorization: Bearer
 * $SKIFF_HOOK_TOKEN`, a JSON PushRequest.
 * Response: `text/plain`, one line per progress message, sent as it happens;
 * the last line is the verdict, `::skiff-result ok` or
 * `::skiff-result failed <reason>`. A progress line that starts with
 * `::skiff-` is sent with a leading space, so output can never pass as a verdict.
 */

export const PRE_RECEIVE_PATH = "/internal/git/pre-receive";

/** The environment variables Skiff sets for `git http-backend`, which the hook reads. */
export const HOOK_ENV = {
  /** Full URL of the pre-receive endpoint, e.g. http://127.0.0.1:7070/internal/git/pre-receive */
  url: "SKIFF_HOOK_URL",
  /** The per-server-start token for that endpoint. */
  token: "SKIFF_HOOK_TOKEN",
  /** The app the push is for. */
  app: "SKIFF_APP",
  /** Absolute path of the compiled hook client (dist/server/git/hook-client.js). */
  client: "SKIFF_HOOK_CLIENT",
  /** The Node.js binary that runs it (the server's own process.execPath). */
  node: "SKIFF_NODE",
} as const;

/** One line of pre-receive input: `<old> <new> <ref>`. Zeros as old: a new ref; zeros as new: a deletion. */
export interface RefUpdate {
  oldSha: string;
  newSha: string;
  ref: string;
}

/** Where receive-pack keeps the pushed objects until the hook accepts them (git's quarantine). */
export interface QuarantineEnv {
  GIT_OBJECT_DIRECTORY?: string;
  GIT_ALTERNATE_OBJECT_DIRECTORIES?: string;
  GIT_QUARANTINE_PATH?: string;
}

/** What the hook client sends: the push, and where its objects can be read. */
export interface PushRequest {
  app: string;
  updates: RefUpdate[];
  /** Absolute path of the bare repository. */
  gitDir: string;
  quarantine: QuarantineEnv;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

const VERDICT = "::skiff-result";

/** The verdict line (without newline); the reason is kept to one line. */
export function formatVerdict(verdict: Verdict): string {
  if (verdict.ok) return `${VERDICT} ok`;
  const reason = verdict.reason.replace(/\s*[\r\n]+\s*/g, " ").trim() || "the pipeline failed";
  return `${VERDICT} failed ${reason}`;
}

/** The verdict a line carries, or undefined when it is an ordinary line. */
export function parseVerdict(line: string): Verdict | undefined {
  if (line === `${VERDICT} ok`) return { ok: true };
  if (line === `${VERDICT} failed`) return { ok: false, reason: "the pipeline failed" };
  if (line.startsWith(`${VERDICT} failed `)) {
    return {
      ok: false,
      reason: line.slice(`${VERDICT} failed `.length).trim() || "the pipeline failed",
    };
  }
  return undefined;
}

/** A progress line as sent: never mistaken for a verdict. */
export function escapeProgressLine(line: string): string {
  return line.startsWith("::skiff-") ? ` ${line}` : line;
}

/** Splits a byte stream into lines as each completes; UTF-8 sequences split across chunks are kept whole. */
export class LineSplitter {
  readonly #decoder = new StringDecoder("utf8");
  #partial = "";

  push(chunk: Buffer | string): string[] {
    const text = this.#partial + (typeof chunk === "string" ? chunk : this.#decoder.write(chunk));
    const lines = text.split("\n");
    this.#partial = lines.pop() ?? "";
    return lines.map((line) => (line.endsWith("\r") ? line.slice(0, -1) : line));
  }

  /** The last line, when the stream did not end with a newline. */
  end(): string[] {
    const rest = this.#partial + this.#decoder.end();
    this.#partial = "";
    return rest ? [rest] : [];
  }
}

/**
 * Reads the server's answer as it streams: `print` gets every progress line
 * the moment it is complete; `end()` returns the verdict, which must be the
 * last line. An answer that stops without one is a failure that says so.
 */
export class HookOutputReader {
  readonly #lines = new LineSplitter();
  #verdict: Verdict | undefined;

  constructor(private readonly print: (line: string) => void) {}

  push(chunk: Buffer | string): void {
    for (const line of this.#lines.push(chunk)) this.#line(line);
  }

  end(interruption?: string): Verdict {
    for (const line of this.#lines.end()) this.#line(line);
    if (interruption) {
      return {
        ok: false,
        reason: `the connection to the Skiff server broke before the pipeline finished (${interruption}); see \`skiff releases\` for what went live`,
      };
    }
    return (
      this.#verdict ?? {
        ok: false,
        reason:
          "the Skiff server's answer ended without a result (did the server stop?); see `skiff releases` for what went live",
      }
    );
  }

  #line(line: string): void {
    const verdict = parseVerdict(line);
    if (verdict) {
      this.#verdict = verdict;
      return;
    }
    // Output after a verdict means that verdict was not the last line: not one.
    this.#verdict = undefined;
    this.print(line);
  }
}

const HEX = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** Parses pre-receive's standard input; throws on a line that is not `<old> <new> <ref>`. */
export function parseRefUpdates(input: string): RefUpdate[] {
  const updates: RefUpdate[] = [];
  for (const line of input.split("\n")) {
    if (line.trim() === "") continue;
    const [oldSha, newSha, ref, ...rest] = line.trim().split(" ");
    if (!oldSha || !newSha || !ref || rest.length > 0 || !HEX.test(oldSha) || !HEX.test(newSha)) {
      throw new Error(`unexpected pre-receive input line ${JSON.stringify(line)}`);
    }
    updates.push({ oldSha, newSha, ref });
  }
  return updates;
}
