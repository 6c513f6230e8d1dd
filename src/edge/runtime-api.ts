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
    if (/[\r\n;]/.test(command)) {
      // A newline or `;` would smuggle a second command onto the socket.
      throw new Error(`refusing a runtime API command with a line break or ';': ${command}`);
    }
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
      socket.on("connect", () => socket.write(`${command}\n`));
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

  /** `show info` as a key/value map (Version, Pid, Uptime_sec, CurrConns, ...). */
  async info(): Promise<Record<string, string>> {
    return parseShowInfo(await this.command("show info"));
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
