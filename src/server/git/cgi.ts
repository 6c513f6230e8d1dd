import type { IncomingHttpHeaders } from "node:http";
import { Transform, type TransformCallback } from "node:stream";

/**
 * The CGI side of `git http-backend` (RFC 3875 and git-http-backend(1)),
 * as pure data: the environment a request becomes, and the response head
 * the backend writes before its body.
 */

/** What of an HTTP request the backend needs, already checked by the route. */
export interface CgiRequest {
  method: string;
  /** `/APP.git/info/refs`, built from the validated app name, never copied from the URL. */
  pathInfo: string;
  /** The raw query string without `?` (`service=git-receive-pack`). */
  queryString: string;
  headers: IncomingHttpHeaders;
  remoteAddr: string;
  remoteUser: string;
  /** Absolute directory holding the `APP.git` repositories. */
  projectRoot: string;
}

/** A Git-Protocol header value: `version=2`, colon-separated `key=value` items. */
const GIT_PROTOCOL_VALUE = /^[A-Za-z0-9._=:-]{1,256}$/;

/** Drops control characters: an environment value may not hold NUL, and a log line should not hold newlines. */
function printable(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
  return value.replace(/[\u0000-\u001f\u007f]/g, "");
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The environment of one `git http-backend` run: `base` (PATH, git config
 * isolation), the CGI variables, then `extra` (Skiff's hook variables, which
 * receive-pack passes on to the pre-receive hook).
 */
export function cgiEnvironment(
  request: CgiRequest,
  base: Record<string, string>,
  extra: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = {
    ...base,
    GIT_PROJECT_ROOT: request.projectRoot,
    GIT_HTTP_EXPORT_ALL: "1",
    PATH_INFO: request.pathInfo,
    REQUEST_METHOD: request.method,
    QUERY_STRING: request.queryString,
    REMOTE_USER: printable(request.remoteUser) || "skiff",
    REMOTE_ADDR: request.remoteAddr,
    SERVER_PROTOCOL: "HTTP/1.1",
  };
  const contentType = header(request.headers, "content-type");
  if (contentType) env.CONTENT_TYPE = printable(contentType);
  // A chunked body has no length: without CONTENT_LENGTH, http-backend lets
  // receive-pack read until EOF (git ≥ 2.19 honours it when present).
  const length = header(request.headers, "content-length");
  const chunked = /chunked/i.test(header(request.headers, "transfer-encoding") ?? "");
  if (length && /^\d+$/.test(length) && !chunked) env.CONTENT_LENGTH = length;
  // git clients gzip large fetch requests; http-backend inflates them itself.
  const encoding = header(request.headers, "content-encoding");
  if (encoding) env.HTTP_CONTENT_ENCODING = printable(encoding);
  // Protocol v2 is negotiated through this header; git-http-backend(1) asks
  // the web server to pass it on as GIT_PROTOCOL.
  const protocol = header(request.headers, "git-protocol");
  if (protocol && GIT_PROTOCOL_VALUE.test(protocol)) env.GIT_PROTOCOL = protocol;
  return { ...env, ...extra };
}

/** The head of a CGI response: its status and the headers to send on. */
export interface CgiHead {
  status: number;
  headers: [name: string, value: string][];
}

/** Headers that describe one HTTP hop; Node writes its own. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade"]);

/**
 * Parses the header block of a CGI response (without the blank line).
 * `Status: 404 Not Found` sets the status; a `Location` without a status is a
 * redirect (RFC 3875 §6.2.3); otherwise 200.
 */
export function parseCgiHead(block: string): CgiHead {
  let status: number | undefined;
  let location = false;
  const headers: [string, string][] = [];
  for (const line of block.split(/\r?\n/)) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`malformed CGI header line ${JSON.stringify(line)}`);
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    const lower = name.toLowerCase();
    if (lower === "status") {
      const code = /^(\d{3})(?:\s|$)/.exec(value);
      if (!code?.[1]) throw new Error(`malformed CGI Status header ${JSON.stringify(value)}`);
      status = Number(code[1]);
      continue;
    }
    if (lower === "location") location = true;
    if (HOP_BY_HOP.has(lower)) continue;
    headers.push([name, value]);
  }
  return { status: status ?? (location ? 302 : 200), headers };
}

/** Where the header block ends: the first blank line, CRLF or bare LF. */
export function findHeadEnd(buffer: Buffer): { headEnd: number; bodyStart: number } | undefined {
  const crlf = buffer.indexOf("\r\n\r\n");
  const lf = buffer.indexOf("\n\n");
  if (crlf === -1 && lf === -1) return undefined;
  if (lf === -1 || (crlf !== -1 && crlf < lf)) return { headEnd: crlf, bodyStart: crlf + 4 };
  return { headEnd: lf, bodyStart: lf + 2 };
}

/** More than this before the blank line is not a CGI head. */
const MAX_HEAD_BYTES = 64 * 1024;

/**
 * Reads a CGI response: emits `head` (a CgiHead) once the header block is
 * complete, and passes everything after it through, chunk by chunk as it
 * arrives (no buffering: the pipeline's `remote:` lines ride in it).
 */
export class CgiResponseReader extends Transform {
  #pending: Buffer | undefined = Buffer.alloc(0);

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#pending === undefined) {
      callback(null, chunk);
      return;
    }
    const buffer = Buffer.concat([this.#pending, chunk]);
    const end = findHeadEnd(buffer);
    if (!end) {
      if (buffer.length > MAX_HEAD_BYTES) {
        callback(
          new Error(`the CGI response has no end of headers in its first ${MAX_HEAD_BYTES} bytes`),
        );
        return;
      }
      this.#pending = buffer;
      callback();
      return;
    }
    this.#pending = undefined;
    let head: CgiHead;
    try {
      head = parseCgiHead(buffer.subarray(0, end.headEnd).toString("latin1"));
    } catch (error) {
      callback(error as Error);
      return;
    }
    this.emit("head", head);
    const body = buffer.subarray(end.bodyStart);
    callback(null, body.length > 0 ? body : undefined);
  }

  override _flush(callback: TransformCallback): void {
    callback(
      this.#pending === undefined
        ? null
        : new Error("the CGI response ended before its headers were complete"),
    );
  }

  /** Whether the header block has been read. */
  get headRead(): boolean {
    return this.#pending === undefined;
  }
}
