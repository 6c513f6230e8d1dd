// One HTTP health check of a replica at its address: the deploy's own check
// of a new replica and the reconciler's of running ones.

import { request } from "node:http";
import type { Address } from "../address.js";

/** A refused HTTP answer is quoted up to this long: enough to recognise it, too short to carry a page. */
const MAX_ANSWER_CHARS = 60;

/** What an HTTP check answered. */
export interface ProbeResult {
  ok: boolean;
  status?: number;
  error?: string;
  /** No answer within the probe's timeout. */
  timedOut?: boolean;
}

/**
 * One HTTP check: GET http://HOST:PORT/PATH with the given Host
 * header. 2xx and 3xx are healthy; redirects are not followed (a redirect
 * to the https site or a login page still means the app answers). It
 * tolerates the answers HAProxy's check tolerates (LF-only lines, no reason
 * phrase, HTTP/1.0, a body until close), since the edge serves those apps.
 */
export function probeHttp(input: {
  address: Address;
  path: string;
  host?: string;
  timeoutMs: number;
  signal?: AbortSignal;
}): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = request(
      {
        host: input.address.host,
        port: input.address.port,
        path: input.path,
        method: "GET",
        // A fresh connection per check: a pooled one could outlive the replica it reached.
        agent: false,
        // HAProxy's own check decides the rotation right after this one, and it
        // is lenient where Node's default parser is strict. Measured with raw
        // answers from a node:net server, against HAProxy 2.6.12's `http-check
        // expect status 200-399` and Node 20.20 (llhttp 9.3), 28 cases:
        // - HAProxy and this lenient parser accept, Node's default refuses: header
        //   lines ending in LF only (busybox httpd's CGI answers: "Missing expected
        //   CR after header value"), an LF-only status line without a reason
        //   phrase, obs-fold lines, a control character in a header value,
        //   Content-Length beside Transfer-Encoding.
        // - All accept: no reason phrase, HTTP/1.0, no space after the colon, no
        //   Content-Length (the body runs until close).
        // - All refuse: not HTTP at all (a CGI script's "Status: 200" served raw,
        //   HTTP/0.9, binary), a space before a colon, a line without a colon, two
        //   different Content-Lengths, a two-digit status.
        // - They differ on three: a bare CR (only Node accepts), a tab or two
        //   spaces after "HTTP/1.1" (only HAProxy accepts).
        // 25 of 28 verdicts match HAProxy's, against 19 with the default parser.
        // A raw status-line reader would match fewer unless it re-implemented the
        // header checks too. What the lenient parser risks, request smuggling on a
        // reused connection, cannot happen here: each check has a connection of
        // its own, closed after one answer, and reads only the status code.
        insecureHTTPParser: true,
        headers: {
          ...(input.host !== undefined && { host: input.host }),
          "user-agent": "skiff-health-check",
          connection: "close",
        },
        ...(input.signal && { signal: input.signal }),
      },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        settle({ ok: status >= 200 && status < 400, status });
      },
    );
    const timer = setTimeout(() => {
      settle({ ok: false, error: `no answer within ${seconds(input.timeoutMs)}`, timedOut: true });
      req.destroy();
    }, input.timeoutMs);
    req.on("error", (error: NodeJS.ErrnoException) =>
      settle({ ok: false, error: probeError(error) }),
    );
    req.end();
  });
}

// Node's error codes for a failed connection (https://nodejs.org/api/errors.html#common-system-errors).
function probeError(error: NodeJS.ErrnoException): string {
  if (error.code === "ECONNREFUSED") return "connection refused";
  // llhttp's parse errors are HPE_* codes, with the bytes it refused as rawPacket
  // (Node's _http_client.js). The start of the answer tells the user what the app
  // sent instead, e.g. a CGI script's "Status: 200 OK" served without a CGI server.
  if (error.code?.startsWith("HPE_")) {
    const why = error.message.replace(/^Parse Error: /, "");
    return `not a valid HTTP answer (${why})${answerStart((error as { rawPacket?: unknown }).rawPacket)}`;
  }
  // Docker's userland proxy accepts on the host port even when nothing listens in the
  // container yet, then closes the connection: Node calls that "socket hang up".
  if (error.code === "ECONNRESET" || error.message === "socket hang up") {
    return "connection closed without an answer (is the app listening on the container port yet?)";
  }
  if (error.name === "AbortError") return "cancelled";
  return error.message;
}

/** The first line of the bytes the parser refused, cut at MAX_ANSWER_CHARS; nothing if unknown. */
function answerStart(raw: unknown): string {
  if (!Buffer.isBuffer(raw) || raw.length === 0) return "";
  const line = raw.toString("latin1").split(/\r?\n/, 1)[0] ?? "";
  const shown = line.length > MAX_ANSWER_CHARS ? `${line.slice(0, MAX_ANSWER_CHARS)}…` : line;
  return `; received ${JSON.stringify(shown)}`;
}

/** "HTTP 503", or the connection error. */
export function describeProbe(result: ProbeResult): string {
  if (result.status !== undefined) return `HTTP ${result.status}`;
  return result.error ?? "no answer";
}

/** A duration for people: "30 s", "1.5 s", "250 ms". */
export function seconds(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0
    ? `${ms / 1000} s`
    : ms < 1000
      ? `${ms} ms`
      : `${(ms / 1000).toFixed(1)} s`;
}
