import { createConnection } from "node:net";
import { DependencyError } from "../errors.js";

/**
 * HAProxy's runtime API on its unix socket (the `stats socket` of the
 * config). Each call opens a connection, sends one command and reads until
 * HAProxy closes it (non-interactive mode). Calls may run concurrently; each
 * has its own connection.
 */
export class EdgeRuntimeApi {
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

  private send(command: string): Promise<string> {
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
      socket.on("error", (error: NodeJS.ErrnoException) =>
        reject(
          new DependencyError(
            `cannot reach the edge's runtime API at ${this.socketPath}: ${error.code ?? error.message}`,
            "the edge (HAProxy) is not running; `skiff server` starts it, `skiff status` shows why it stopped",
          ),
        ),
      );
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
