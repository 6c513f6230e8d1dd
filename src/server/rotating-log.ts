import { closeSync, fchmodSync, fstatSync, openSync, renameSync, rmSync, writeSync } from "node:fs";

/** server.log is cut at this size… */
export const SERVER_LOG_MAX_BYTES = 10 * 1024 * 1024;
/** …and this many files are kept: server.log, server.log.1, server.log.2. */
export const SERVER_LOG_FILES = 3;

export interface RotatingLogOptions {
  file: string;
  maxBytes?: number;
  /** Files kept, the current one included (at least 1). */
  files?: number;
}

/**
 * An append-only log file of bounded size, written by the process that logs
 * (the server, through Fastify's logger and its own lines), so no other
 * process has to copy or truncate it under a writer. When a write would take
 * the file past `maxBytes`, it becomes `FILE.1` (`FILE.1` becomes `FILE.2`,
 * and so on; the oldest is deleted) and a new `FILE` starts. Files are mode
 * 0600: the log names apps, repositories and clients. Writes are
 * synchronous, so lines keep their order and a crash loses none of them.
 * It has the `write` method pino (Fastify's logger) needs from a stream.
 */
export class RotatingLog {
  private fd: number;
  private size: number;
  private readonly maxBytes: number;
  private readonly files: number;

  constructor(private readonly options: RotatingLogOptions) {
    this.maxBytes = options.maxBytes ?? SERVER_LOG_MAX_BYTES;
    this.files = Math.max(1, options.files ?? SERVER_LOG_FILES);
    this.fd = this.open();
    this.size = fstatSync(this.fd).size;
  }

  write(chunk: string | Uint8Array): boolean {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    // A write that alone exceeds the limit still goes out whole, into a fresh file.
    if (this.size > 0 && this.size + bytes.length > this.maxBytes) this.rotate();
    writeSync(this.fd, bytes);
    this.size += bytes.length;
    return true;
  }

  /** Writes `line` and a newline. */
  line(text: string): void {
    this.write(`${text}\n`);
  }

  close(): void {
    closeSync(this.fd);
  }

  private open(): number {
    const fd = openSync(this.options.file, "a", 0o600);
    // An existing log from before modes were enforced is 0644 until told.
    fchmodSync(fd, 0o600);
    return fd;
  }

  private rotate(): void {
    closeSync(this.fd);
    const { file } = this.options;
    const name = (n: number) => (n === 0 ? file : `${file}.${n}`);
    rmSync(name(this.files - 1), { force: true });
    for (let n = this.files - 2; n >= 0; n--) {
      try {
        renameSync(name(n), name(n + 1));
      } catch (error) {
        // A gap in the series (an operator deleted server.log.1): nothing to shift.
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
    }
    this.fd = this.open();
    this.size = 0;
  }
}
