import { spawn } from "node:child_process";
import { DependencyError } from "../errors.js";

/**
 * Running a program for base images (debootstrap, tar): an argument array,
 * never a shell string; output read line by line as it comes; a failure
 * carries the exit code, the tail of stderr and a hint.
 */

/** A program that exited non-zero or could not start. */
export class CommandError extends DependencyError {
  constructor(
    message: string,
    hint: string,
    /** null when killed by a signal or never started. */
    readonly exitCode: number | null,
    /** The last lines the program wrote to stderr. */
    readonly stderrTail: string[],
  ) {
    super(message, hint);
  }
}

export interface RunOptions {
  /** Each line of stdout and stderr, as it arrives (stdout is not kept otherwise). */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /** Kills the program (SIGTERM) when aborted. */
  signal?: AbortSignal;
  /** Called when it fails: the hint for its error, given the exit code and stderr. */
  hint?: (exitCode: number | null, stderrTail: string[]) => string;
  env?: NodeJS.ProcessEnv;
}

export const STDERR_TAIL_LINES = 20;

/** Runs `file args...` to the end; throws CommandError unless it exits 0. */
export function runCommand(file: string, args: string[], options: RunOptions = {}): Promise<void> {
  const child = spawn(file, args, {
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.env ? { env: options.env } : {}),
  });
  return waitForCommand(child, file, args, options);
}

/** Waits for a started child as runCommand does; for callers that also use its stdout as a stream. */
export function waitForCommand(
  child: import("node:child_process").ChildProcess,
  file: string,
  args: string[],
  options: RunOptions = {},
): Promise<void> {
  const stderrTail: string[] = [];
  const partial = { stdout: "", stderr: "" };
  const lines = (stream: "stdout" | "stderr") => (chunk: Buffer) => {
    const parts = (partial[stream] + chunk.toString("utf8")).split(/\r?\n|\r/);
    partial[stream] = parts.pop() ?? "";
    for (const line of parts) emit(line, stream);
  };
  /** A last line without a newline. */
  const flush = () => {
    for (const stream of ["stdout", "stderr"] as const) {
      if (partial[stream]) emit(partial[stream], stream);
      partial[stream] = "";
    }
  };
  const emit = (line: string, stream: "stdout" | "stderr") => {
    if (stream === "stderr") {
      stderrTail.push(line);
      if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift();
    }
    options.onLine?.(line, stream);
  };
  // stdout may be consumed by the caller (tar into the Engine API); read it only when it is not.
  if (options.onLine && child.stdout && child.stdout.listenerCount("data") === 0) {
    child.stdout.on("data", lines("stdout"));
  }
  child.stderr?.on("data", lines("stderr"));
  const command = [file, ...args].join(" ");
  return new Promise((resolve, reject) => {
    child.once("error", (error: NodeJS.ErrnoException) => {
      if (error.name === "AbortError") {
        reject(new CommandError(`${command}: cancelled`, "start it again", null, stderrTail));
        return;
      }
      reject(
        new CommandError(
          `could not start ${file}: ${error.code ?? error.message}`,
          error.code === "ENOENT"
            ? `install ${file} (apt-get install ${file})`
            : "check that it is executable",
          null,
          stderrTail,
        ),
      );
    });
    child.once("close", (code, signal) => {
      flush();
      if (code === 0) {
        resolve();
        return;
      }
      const how = code === null ? `was killed by ${signal}` : `exited with code ${code}`;
      const tail = stderrTail.length > 0 ? `:\n${stderrTail.join("\n")}` : "";
      reject(
        new CommandError(
          `${command} ${how}${tail}`,
          options.hint?.(code, stderrTail) ?? "its output above says why",
          code,
          [...stderrTail],
        ),
      );
    });
  });
}

/**
 * Passes a program's progress lines on without flooding: informational
 * lines (debootstrap's `I: Retrieving x`) at most one per `intervalMs`, with
 * the number skipped; warnings and errors (`W:`, `E:`) always. `flush` sends
 * the last held line.
 */
export class LineThrottle {
  #lastAt = Number.NEGATIVE_INFINITY;
  #held: string | undefined;
  /** Lines dropped since the last one sent, not counting the held one. */
  #dropped = 0;

  constructor(
    /** `skipped`: how many lines before this one were not passed on. */
    private readonly emit: (text: string, skipped: number) => void,
    private readonly intervalMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  add(line: string): void {
    if (line.trim() === "") return;
    if (/^(W|E):/.test(line)) {
      this.flush();
      this.emit(line, 0);
      return;
    }
    const at = this.now();
    if (at - this.#lastAt < this.intervalMs) {
      if (this.#held !== undefined) this.#dropped++;
      this.#held = line;
      return;
    }
    const skipped = this.#dropped + (this.#held === undefined ? 0 : 1);
    this.#held = undefined;
    this.#dropped = 0;
    this.#lastAt = at;
    this.emit(line, skipped);
  }

  /** Sends the held line, if any (at the end of the program's output). */
  flush(): void {
    if (this.#held === undefined) return;
    const line = this.#held;
    const skipped = this.#dropped;
    this.#held = undefined;
    this.#dropped = 0;
    this.emit(line, skipped);
  }
}
