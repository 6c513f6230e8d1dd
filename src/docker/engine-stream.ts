import type { IncomingMessage } from "node:http";
import type Docker from "dockerode";
import { DependencyError } from "../errors.js";

/**
 * Streaming Engine API calls (build, push, import): the daemon answers 200
 * at once and then writes one JSON message per line until the work is done.
 * Failures of the work itself arrive inside that stream as
 * `{"errorDetail":{"message":...},"error":...}`, not as an HTTP status; only
 * a request the daemon refuses up front gets a 4xx/5xx.
 */

/** One line of a JSON message stream (docker/docker pkg/jsonmessage.JSONMessage). */
export interface EngineMessage {
  id?: string;
  status?: string;
  stream?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  aux?: unknown;
  error?: string;
  errorDetail?: { code?: number; message?: string };
}

/** A streaming request as plain data; `openEngineStream` sends it. */
export interface EngineStreamRequest {
  method: "POST" | "GET";
  /** Path without the query, e.g. `/build`. */
  path: string;
  query: Record<string, string | string[]>;
  headers?: Record<string, string>;
  /** Request body (a tar stream). */
  body?: NodeJS.ReadableStream;
  signal?: AbortSignal;
  /** What Skiff was doing, for error messages: `build shop/web`. */
  action: string;
}

/** The daemon refused a request (4xx/5xx before any stream). */
export class EngineRequestError extends DependencyError {
  constructor(
    message: string,
    hint: string,
    readonly statusCode: number | undefined,
    /** The daemon's own words. */
    readonly daemonMessage: string,
  ) {
    super(message, hint);
  }
}

/**
 * Sends a streaming request through dockerode's modem (which knows the socket
 * and API version) and resolves with the response stream. Throws
 * EngineRequestError when the daemon refuses, DependencyError when it cannot
 * be reached, and the AbortError itself when `signal` aborted.
 */
export function openEngineStream(
  docker: Docker,
  request: EngineStreamRequest,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    docker.modem.dial(
      {
        path: `${request.path}?`,
        method: request.method,
        // A copy: the modem deletes keys it consumes from the object it is given.
        options: { ...request.query },
        headers: { ...request.headers },
        ...(request.body ? { file: request.body } : {}),
        ...(request.signal ? { abortSignal: request.signal } : {}),
        isStream: true,
        statusCodes: { 200: true, 400: "bad parameter", 404: "not found", 500: "server error" },
      },
      (error, result) => {
        if (error) reject(describeDialError(error, request));
        else resolve(result as IncomingMessage);
      },
    );
  });
}

function describeDialError(error: Error, request: EngineStreamRequest): Error {
  if (error.name === "AbortError" || request.signal?.aborted) return error;
  const { statusCode, json } = error as Error & { statusCode?: number; json?: unknown };
  if (statusCode !== undefined) {
    const said = (
      typeof json === "object" && json !== null && "message" in json
        ? String((json as { message: unknown }).message)
        : typeof json === "string"
          ? json
          : error.message
    )
      // docker-modem's own prefix: "(HTTP code 500) server error - "
      .replace(/^\(HTTP code \d+\) [^-]*- /, "")
      .trim();
    return new EngineRequestError(
      `Docker Engine refused to ${request.action}: ${said} (HTTP ${statusCode})`,
      /invalid reference format/.test(said)
        ? "image references are lower-case: registry/repository:tag, e.g. 127.0.0.1:5000/shop/web:r1"
        : statusCode === 400
          ? "a parameter is invalid; the daemon's words above name it"
          : "see the Docker daemon's log (journalctl -u docker, or /var/log/skiff-dockerd.log)",
      statusCode,
      said,
    );
  }
  const code = (error as NodeJS.ErrnoException).code;
  const hint =
    code === "ENOENT" || code === "ECONNREFUSED"
      ? "start the Docker daemon (dockerd); scripts/quickstart starts it"
      : code === "EACCES"
        ? "run Skiff as a user allowed to use the Docker socket (root or the docker group)"
        : "check that the Docker daemon is running; `docker version` shows what it says";
  return new DependencyError(
    `could not ${request.action}: Docker Engine did not answer (${code ?? error.message})`,
    hint,
  );
}

/**
 * The messages of a JSON message stream, one per line, as they arrive.
 * Lines that are not JSON come as `{ stream: line }` so nothing is lost.
 */
export async function* engineMessages(
  stream: AsyncIterable<Buffer | string>,
): AsyncGenerator<EngineMessage> {
  let buffered = "";
  const decoder = new TextDecoder("utf-8");
  for await (const chunk of stream) {
    buffered += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    let newline = buffered.indexOf("\n");
    while (newline !== -1) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line) yield parseLine(line);
      newline = buffered.indexOf("\n");
    }
  }
  const rest = (buffered + decoder.decode()).trim();
  if (rest) yield parseLine(rest);
}

function parseLine(line: string): EngineMessage {
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed === "object" && parsed !== null) return parsed as EngineMessage;
  } catch {
    // not JSON: keep it as text
  }
  return { stream: line };
}

/** The error a stream message carries, if any. */
export function messageError(message: EngineMessage): string | undefined {
  return message.errorDetail?.message ?? message.error;
}
