import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import type { SkiffConfig } from "../config.js";
import { ExitError } from "../errors.js";

/** How long a request may take; apps:destroy with many images is the slowest. */
const REQUEST_TIMEOUT_MS = 120_000;

/** The body of an API error answer. */
interface ErrorBody {
  error?: { code?: string; message?: string; hint?: string };
}

/** A failed API call, carrying the server's message and hint. */
export class ApiError extends ExitError {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
    message: string,
  ) {
    super(message, 1);
  }
}

/**
 * The CLI's only way to the server: the REST API with a bearer token.
 * `SKIFF_URL` and `SKIFF_TOKEN` point it elsewhere; by default it talks to
 * the local server with the admin token from `$SKIFF_HOME/admin-token`.
 */
export class ApiClient {
  readonly baseUrl: string;
  private readonly token: string | undefined;

  constructor(config: SkiffConfig, env: NodeJS.ProcessEnv = process.env) {
    this.baseUrl = (env.SKIFF_URL || `http://127.0.0.1:${config.port}`).replace(/\/+$/, "");
    this.token = env.SKIFF_TOKEN || readToken(config.paths.adminToken);
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PATCH", path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.request<T>("DELETE", path);
  }

  /** A plain-text answer (logs). */
  async text(path: string): Promise<string> {
    const response = await this.send("GET", path);
    return response.text();
  }

  /** A streaming answer (Server-Sent Events); the body is read as it arrives. */
  async stream(path: string): Promise<ReadableStream<Uint8Array>> {
    const response = await this.send("GET", path, undefined, { accept: "text/event-stream" });
    if (!response.body) throw new ExitError(`${path} answered without a body`, 1);
    return response.body;
  }

  /** POSTs a tar archive as the body, streamed. */
  async upload<T>(path: string, archive: Readable): Promise<T> {
    const response = await this.send("POST", path, archive, {
      "content-type": "application/x-tar",
    });
    return (await response.json()) as T;
  }

  /** POSTs and yields the answer's lines as they arrive (NDJSON progress). */
  async *streamPost(path: string, body: unknown): AsyncGenerator<string> {
    const response = await this.send("POST", path, body, { accept: "application/x-ndjson" });
    if (!response.body) return;
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) if (line) yield line;
    }
    if (buffer) yield buffer;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.send(method, path, body);
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Sends a request; a non-2xx answer becomes an ApiError with the server's message and hint. */
  private async send(
    method: string,
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { ...extraHeaders };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const raw = body instanceof Readable;
    if (body !== undefined && !raw) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        // Streams run as long as their run; everything else has a deadline,
        // so a hung server never hangs a script.
        ...(extraHeaders.accept === "text/event-stream" ||
        extraHeaders.accept === "application/x-ndjson"
          ? {}
          : { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }),
        ...(raw
          ? { body: Readable.toWeb(body) as ReadableStream, duplex: "half" }
          : body !== undefined
            ? { body: JSON.stringify(body) }
            : {}),
      });
    } catch (error) {
      const cause =
        (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new ExitError(
        `cannot reach the Skiff server at ${this.baseUrl} (${cause}).\n` +
          "Start it with `skiff server start`, or point SKIFF_URL at a running server.",
        1,
      );
    }
    if (response.ok) return response;
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    const error = (parsed as ErrorBody | undefined)?.error;
    let message = error?.message ?? `${method} ${path} answered ${response.status}`;
    if (error?.hint) message += `\n${error.hint}`;
    if (response.status === 401 && !this.token) {
      message +=
        "\nNo token found: set SKIFF_TOKEN, or run on the server host where $SKIFF_HOME/admin-token exists.";
    }
    throw new ApiError(response.status, (parsed as ErrorBody) ?? {}, message);
  }
}

function readToken(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
