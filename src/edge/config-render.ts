import { formatAddress } from "../address.js";
import type { EdgeBackendSpec, EdgeServerSpec } from "./edge-state.js";

/**
 * The edge's desired state as HAProxy config text. HAProxy's file is always
 * rendered from Skiff's state, so a restart or reload loses nothing; runtime
 * API changes between renders must be mirrored here before the next reload.
 */
export interface EdgeConfigInput {
  /** Public HTTP listener, e.g. 8080. */
  httpPort: number;
  /** Stats page, bound to 127.0.0.1 only. */
  statsPort: number;
  /** Runtime API socket (admin level, hands listeners over on reload). */
  runtimeSocket: string;
  /** Map file: one `host backend` per line. */
  domainMapFile: string;
  /** The body of the 404 page for unknown hosts. */
  notFoundPageFile: string;
  /** Every app's backends with their current servers, in the order to render. */
  backends: readonly EdgeBackendSpec[];
}

/** Renders haproxy.cfg. Pure, so tests compare it exactly. */
export function renderEdgeConfig(input: EdgeConfigInput): string {
  return `# Written by skiff from its desired state; edits here are lost on the next render.
global
    master-worker
    # The runtime API. expose-fd listeners lets a reloaded worker take over
    # the listening sockets, so a reload drops no connection.
    stats socket ${input.runtimeSocket} mode 600 level admin expose-fd listeners
    stats timeout 30s
    # CLI connections served at once (default 10): Skiff's router opens up
    # to 8 (runtime-api.ts), and skiff status, ps or an operator's socat more.
    stats maxconn 32
${LOGGING}    # No maxconn: HAProxy derives it from the file-descriptor limit it is
    # given, and a fixed value above that limit makes it refuse to start.

defaults
    mode http
    # On reload, old workers close idle keep-alive connections after their
    # next response instead of cutting them.
    option idle-close-on-response
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout queue 10s

frontend skiff_http
    bind :${input.httpPort}
${FORWARDED_HEADERS}    # Route by the Host header without its port, case-insensitively. The
    # lookup sits in use_backend itself: a set-var before it cost CPU on
    # every request (docs/BENCHMARKS.md, bench/edge-config-cost).
    use_backend %[req.hdr(host),field(1,:),lower,map(${input.domainMapFile})]
    default_backend skiff_not_found

frontend skiff_stats
    bind 127.0.0.1:${input.statsPort}
    stats enable
    stats uri /
    stats refresh 10s
    stats show-legends

backend skiff_not_found
    http-request return status 404 content-type "text/html; charset=utf-8" file ${input.notFoundPageFile}
${input.backends.length > 0 ? BACKENDS_NOTE : ""}${input.backends.map(renderBackend).join("")}`;
}

/**
 * What the edge logs: HAProxy's own messages (server UP and DOWN, reloads,
 * alerts), which it prints to stderr, the edge's log file, whatever the log
 * settings say. No proxy has a `log` line, so HAProxy builds no log line per
 * request. With `log global` in defaults it built one for every request (the
 * default format, or `option httplog`'s), only for this target's `notice`
 * level to drop each of them: "Connections are logged at level info"
 * (configuration.txt, "log"). That cost CPU on every request
 * (docs/BENCHMARKS.md, bench/edge-config-cost). The global target stays for
 * the messages HAProxy sends without a proxy.
 */
export const LOGGING = `    log stderr format short local0 notice
`;

/**
 * What the edge tells an app about who asked, for every frontend that routes
 * to apps. Each rule REPLACES what the client sent: `http-request set-header`
 * "does the same as add-header except that the header name is first removed
 * if it existed. This is useful when passing security information to the
 * server, where the header must not be manipulated by external users"
 * (HAProxy 2.6 configuration manual, 4.2 "http-request set-header"). `option
 * forwardfor` is not used: it appends after the client's own header and leaves
 * it to the app to read "the last occurrence" (same manual, "option
 * forwardfor"), which apps reading the first value get wrong.
 * - X-Forwarded-For: `src`, the TCP peer's address (no PROXY protocol here).
 * - X-Forwarded-Proto: from `ssl_fc`, true when the connection came in on a
 *   `bind ... ssl` line; the `iif` converter is the manual's own example. No
 *   frontend terminates TLS yet, so today it is always http; an HTTPS bind
 *   (in this frontend or another using these rules) says https by itself.
 * - X-Forwarded-Host: `req.hdr(host)`, the Host value that routed the request
 *   (the same fetch the routing rule reads, port and case as the client sent
 *   them). A request without a Host never reaches an app: the map lookup fails
 *   and it gets the 404 backend.
 * - X-Real-IP (nginx's name for the same fact) is set too, and a client's
 *   RFC 7239 `Forwarded` is dropped: an app reading either would otherwise
 *   trust what the client wrote.
 */
export const FORWARDED_HEADERS = `    # Tell the app who asked, replacing whatever the client sent in these headers.
    http-request set-header X-Forwarded-For %[src]
    http-request set-header X-Forwarded-Proto %[ssl_fc,iif(https,http)]
    http-request set-header X-Forwarded-Host %[req.hdr(host)]
    http-request set-header X-Real-IP %[src]
    http-request del-header Forwarded
`;

/**
 * Health-check and connection settings of every server, in the file and in
 * runtime `add server` alike: servers added through the runtime API do not
 * inherit `default-server` or the file's defaults (management.txt, "add
 * server"), so both spell them out.
 *
 * - A check a second, down after 2 failures, up after 2 passes: a dead
 *   replica leaves the rotation within about 2 s (retries cover the requests
 *   in between), and one lucky answer does not bring a broken one back.
 * - `downinter 100ms`, the pace while a server is down: a server added at
 *   runtime starts there, so its first check runs within 0.1 s of `enable
 *   health` instead of a whole `inter` later (1.06 s to join the rotation
 *   before, measured in docs/BENCHMARKS.md; on a stand-alone HAProxy 2.6.12,
 *   1,015 ms without either, 1,021 ms with `fastinter 100ms` alone, 115 ms
 *   with `downinter 100ms`: it is this one that does it). A dead replica is checked that
 *   often too until the reconciler removes it: a refused connection costs
 *   next to nothing.
 * - `fastinter 100ms`, the pace while a server's health is changing: a
 *   replica that failed one check is confirmed down 0.1 s later, not 1 s.
 * - `pool-max-conn -1 pool-purge-delay 5s`: keep idle connections to the
 *   replica for reuse. A server added at runtime otherwise gets no pool and
 *   opens a new connection for every request (measured with `show servers
 *   conn` and bench/edge-overhead).
 */
export const SERVER_CHECK = "check inter 1s fastinter 100ms downinter 100ms fall 2 rise 2";
export const SERVER_POOL = "pool-max-conn -1 pool-purge-delay 5s";

/** The address and settings after `server NAME` (config) or `add server B/NAME` (runtime API). */
export function serverArguments(server: Pick<EdgeServerSpec, "address">, weight?: number): string {
  return `${formatAddress(server.address)} ${SERVER_CHECK} ${SERVER_POOL}${weight === undefined ? "" : ` weight ${weight}`}`;
}

/**
 * The request methods RFC 9110 (section 9.2.2) defines as idempotent: a
 * client may send them again after a failure, so the edge may too. (HAProxy's
 * predefined METH_GET matches HEAD as well.)
 */
const IDEMPOTENT = "METH_GET or METH_OPTIONS or METH_PUT or METH_DELETE or METH_TRACE";

const BACKENDS_NOTE = `
# App backends. Round robin over the replicas; HAProxy's own HTTP check decides
# who is in the rotation. A request that fails to connect is retried on another
# replica (conn-failure: nothing was sent, always safe); an idempotent request
# is also retried on an empty response (the replica died mid-request) or a
# 502/503/504, so a replica that dies between two checks fails no GET.
# response-timeout is not retried: after "timeout server" the request is likely
# the problem, and retrying it would only multiply the load.
`;

/**
 * The User-Agent of the edge's health checks, as Skiff's own probe sends
 * skiff-health-check (deploy/http-probe.ts): an app's access log can leave
 * both out (README, "Runtime logs").
 */
export const EDGE_CHECK_USER_AGENT = "skiff-edge-check";

/** One backend section. Draining servers get weight 0, so a reload or restart keeps them out of the rotation. */
export function renderBackend(backend: EdgeBackendSpec): string {
  const servers = backend.servers
    .map((s) => `    server ${s.name} ${serverArguments(s, s.draining ? 0 : undefined)}\n`)
    .join("");
  return `
backend ${backend.name}
    balance roundrobin
    option httpchk
    http-check send meth GET uri ${backend.healthPath} ver HTTP/1.1 hdr Host ${backend.healthHost ?? "localhost"} hdr User-Agent ${EDGE_CHECK_USER_AGENT}
    http-check expect status 200-399
    retry-on conn-failure empty-response 502 503 504
    http-request disable-l7-retry unless ${IDEMPOTENT}
    retries 3
    option redispatch 1
${servers}`;
}

/** The page unknown hosts get: says it is Skiff and how to put an app there. */
export const NOT_FOUND_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>404 · No app here · Skiff</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; color: #222">
<h1>404 · No app here</h1>
<p>This is <strong>Skiff</strong>'s edge. No app is deployed at this address.</p>
<p>To put one here: <code>skiff apps:create NAME</code>, then <code>git push</code> to it.
An app answers at <code>http://NAME.localhost:PORT/</code> or at the domains in its <code>x-skiff.domains</code>.</p>
</body>
</html>
`;
