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
    log stderr format short local0 notice
    # No maxconn: HAProxy derives it from the file-descriptor limit it is
    # given, and a fixed value above that limit makes it refuse to start.

defaults
    mode http
    log global
    option httplog
    option dontlognull
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
    # Route by the Host header without its port, case-insensitively.
    http-request set-var(txn.skiff_host) req.hdr(host),field(1,:),lower
    use_backend %[var(txn.skiff_host),map(${input.domainMapFile})]
    default_backend skiff_not_found

frontend skiff_stats
    bind 127.0.0.1:${input.statsPort}
    stats enable
    stats uri /
    stats refresh 10s
    stats show-legends

backend skiff_not_found
    http-request return status 404 content-type "text/html; charset=utf-8" file ${input.notFoundPageFile}
`;
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
