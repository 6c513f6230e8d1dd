import { createConnection } from "node:net";
import { DependencyError } from "../errors.js";

/**
 * How many connections to the socket are open at once. HAProxy serves 10 CLI
 * connections at a time by default (`stats maxconn`, configuration.txt) and
 * queues a few more; beyond that a connect fails with EAGAIN (measured on
 * 2.6.12: 40 at once gave 21 answers and 19 EAGAIN). A deploy of many web
 * services asks for every backend at once, so the calls wait their turn here.
 */
const MAX_CONNECTIONS = 8;
/** A connect that still meets EAGAIN (another client holds the socket) is tried again this often. */
const EAGAIN_RETRIES = 20;
const EAGAIN_PAUSE_MS = 10;

/**
 * HAProxy's runtime API on its unix socket (the `stats socket` of the
 * config). Each call opens a connection, sends one command and reads until
 * HAProxy closes it (non-interactive mode). Calls may run concurrently; at
 * most MAX_CONNECTIONS are open at once, the others wait.
 */
export class EdgeRuntimeApi {
  private open = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = 3000,
  ) {}

  /** Sends one command and returns HAProxy's answer as text. */
  command(command: string): Promise<string> {
    assertOneCommand(command);
    return this.send(command);
  }

  /**
   * Sends one command and fails when HAProxy answers with an error. The CLI
   * reports errors as text; `set severity-output number` (management.txt)
   * prefixes each message with its syslog severity, so `[3]: No such server.`
   * is an error and `[6]: New server registered.` is not.
   */
  async execute(command: string): Promise<string> {
    assertOneCommand(command);
    const answer = await this.send(`set severity-output number; ${command}`);
    const error = /^\[[0-3]\]: (.*)$/m.exec(answer);
    if (error) {
      throw new EdgeCommandError(
        `the edge refused "${command}": ${error[1]}`,
        "the edge's log (skiff status shows where it is) may say more",
        command,
        error[1] ?? "",
      );
    }
    return answer.replace(/^\n/, "");
  }

  /** `show info` as a key/value map (Version, Pid, Uptime_sec, CurrConns, ...). */
  async info(): Promise<Record<string, string>> {
    return parseShowInfo(await this.command("show info"));
  }

  private async send(command: string): Promise<string> {
    if (this.open >= MAX_CONNECTIONS) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.open++;
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          return await this.sendOnce(command);
        } catch (error) {
          if (!(error instanceof TryAgain) || attempt >= EAGAIN_RETRIES) throw unwrap(error);
          await new Promise((resolve) => setTimeout(resolve, EAGAIN_PAUSE_MS));
        }
      }
    } finally {
      this.open--;
      this.waiting.shift()?.();
    }
  }

  private sendOnce(command: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(this.socketPath);
      const chunks: Buffer[] = [];
      socket.setTimeout(this.timeoutMs, () => {
        socket.destroy();
        reject(
          new DependencyError(
            `the edge's runtime API at ${this.socketPath} did not answer "${command}" within ${this.timeoutMs} ms`,
            "check that HAProxy runs: skiff status",
          ),
        );
      });
      // end(), not write(): the master CLI answers only once the client has
      // finished sending (half-close); the workers' CLI does not mind.
      socket.on("connect", () => socket.end(`${command}\n`));
      socket.on("data", (chunk) => chunks.push(chunk));
      socket.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
      socket.on("error", (error: NodeJS.ErrnoException) => {
        const failure = new DependencyError(
          `cannot reach the edge's runtime API at ${this.socketPath}: ${error.code ?? error.message}`,
          error.code === "EAGAIN"
            ? "the edge's runtime API is busy with other clients; try again"
            : "the edge (HAProxy) is not running; `skiff server` starts it, `skiff status` shows why it stopped",
        );
        reject(error.code === "EAGAIN" ? new TryAgain(failure) : failure);
      });
    });
  }
}

/** HAProxy answered a runtime API command with an error message. */
export class EdgeCommandError extends DependencyError {
  constructor(
    message: string,
    hint: string,
    /** The command that failed. */
    readonly command: string,
    /** HAProxy's message, e.g. "No such server." */
    readonly reason: string,
  ) {
    super(message, hint);
  }
}

/** A newline or `;` would smuggle a second command onto the socket. */
function assertOneCommand(command: string): void {
  if (/[\r\n;]/.test(command)) {
    throw new Error(`refusing a runtime API command with a line break or ';': ${command}`);
  }
}

/** Parses the `Key: value` lines of `show info`. */
export function parseShowInfo(text: string): Record<string, string> {
  const info: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) info[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return info;
}

/** A connect refused for now (EAGAIN: the socket's queue is full); carries the error to report if it stays so. */
class TryAgain extends Error {
  constructor(readonly failure: DependencyError) {
    super(failure.message);
  }
}

function unwrap(error: unknown): unknown {
  return error instanceof TryAgain ? error.failure : error;
}
