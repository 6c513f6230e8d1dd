// Fixed-rate HTTP load for the benchmarks: one GET every 1/rate seconds,
// whatever the answers take (an open loop: a slow phase shows as latency and
// errors, not as fewer requests sent), over a small pool of keep-alive
// connections to 127.0.0.1. A request that finds every connection busy waits
// for one, and that wait counts in its latency (no coordinated omission).
// Bounded by count and time: a load stops by itself after `maxSeconds`.
//
// Two clients with the same interface:
// - httpLoad: Node's own http client (an Agent with keep-alive), as a real
//   client sees the server, with Node's error codes (ECONNRESET, ...);
// - rawLoad: a minimal HTTP/1.1 client on net.Socket for small answers with
//   a Content-Length, about half the CPU per request of Node's client,
//   for measurements where the load generator shares the CPUs with what it
//   measures.
//
// Each request is recorded: when it was due (ms since the load started), its
// latency, and its outcome (the status code, or the socket error's code).

import { Agent, request } from "node:http";
import { createConnection } from "node:net";

/** Node's http client at a fixed rate. `pick(body)` may keep a short tag per answer (e.g. the page's title). */
export function httpLoad({
  port,
  host,
  path = "/",
  rate,
  connections = 8,
  maxSeconds = 600,
  timeoutMs = 10_000,
  pick,
}) {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  return schedule(
    { rate, maxSeconds },
    (record) => {
      const req = request(
        { host: "127.0.0.1", port, path, agent, headers: { host }, timeout: timeoutMs },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (chunk) => {
            if (body.length < 4096) body += chunk;
          });
          res.on("end", () =>
            record({
              status: res.statusCode ?? 0,
              ...(pick ? { tag: pick(body) } : {}),
              ...(res.statusCode !== 200 ? { detail: body.slice(0, 160).trim() } : {}),
            }),
          );
          res.on("error", (error) => record({ error: error.code ?? error.message }));
        },
      );
      req.on("timeout", () =>
        req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })),
      );
      req.on("error", (error) =>
        record({ error: error.code ?? error.message, reused: req.reusedSocket === true }),
      );
      req.end();
    },
    () => agent.destroy(),
  );
}

/**
 * A minimal keep-alive HTTP/1.1 client: `connections` sockets, one request at
 * a time on each, answers read by their Content-Length. For small answers of
 * a known shape only (a health endpoint); anything else is an error.
 */
export function rawLoad({ port, host, path = "/", rate, connections = 8, maxSeconds = 600 }) {
  const requestBytes = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  const idle = [];
  const waiting = [];
  const sockets = new Set();
  let closed = false;

  const open = () => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.setNoDelay(true);
    sockets.add(socket);
    const state = { socket, buffer: Buffer.alloc(0), current: undefined, connected: false };
    socket.on("connect", () => {
      state.connected = true;
      release(state);
    });
    socket.on("data", (chunk) => {
      state.buffer = state.buffer.length === 0 ? chunk : Buffer.concat([state.buffer, chunk]);
      for (;;) {
        const end = state.buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = state.buffer.subarray(0, end).toString("latin1");
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        if (!length) {
          fail(state, "NO_CONTENT_LENGTH");
          return;
        }
        const total = end + 4 + Number(length[1]);
        if (state.buffer.length < total) return;
        state.buffer = state.buffer.subarray(total);
        const status = Number(head.slice(9, 12));
        const current = state.current;
        state.current = undefined;
        current?.({ status });
        if (/\r\nconnection:\s*close/i.test(head)) {
          fail(state, undefined);
          return;
        }
        release(state);
      }
    });
    const gone = (error) => fail(state, error?.code ?? "ECONNRESET");
    socket.on("error", gone);
    socket.on("close", () => gone());
  };

  // A socket that failed or was closed: its request (if any) fails, a new one opens.
  const fail = (state, code) => {
    if (state.dead) return;
    state.dead = true;
    sockets.delete(state.socket);
    state.socket.destroy();
    const index = idle.indexOf(state);
    if (index >= 0) idle.splice(index, 1);
    if (state.current) state.current({ error: code ?? "ECONNRESET" });
    state.current = undefined;
    // A refused connection is retried after a moment, not in a tight loop.
    if (!closed) setTimeout(() => !closed && open(), 20);
  };

  const release = (state) => {
    const next = waiting.shift();
    if (next) send(state, next);
    else idle.push(state);
  };

  const send = (state, record) => {
    state.current = record;
    state.socket.write(requestBytes);
  };

  for (let i = 0; i < connections; i++) open();
  return schedule(
    { rate, maxSeconds },
    (record) => {
      const state = idle.pop();
      if (state) send(state, record);
      else waiting.push(record);
    },
    () => {
      closed = true;
      for (const socket of sockets) socket.destroy();
    },
  );
}

/**
 * The open-loop scheduler both clients share: calls `fire(record)` at the
 * rate; `record(outcome)` is called once per request. `stop()` waits up to
 * 15 s for the requests in flight and resolves with every record.
 */
function schedule({ rate, maxSeconds }, fire, close) {
  const records = [];
  let inFlight = 0;
  let stopped = false;
  const started = performance.now();
  const intervalMs = 1000 / rate;
  let next = started;
  let timer;

  const tick = () => {
    if (stopped) return;
    const now = performance.now();
    while (next <= now) {
      const due = next;
      const entry = { t: due - started, ms: Number.NaN };
      records.push(entry);
      inFlight++;
      let done = false;
      fire((outcome) => {
        if (done) return;
        done = true;
        inFlight--;
        entry.ms = performance.now() - due;
        Object.assign(entry, outcome);
      });
      next += intervalMs;
    }
    if (now - started > maxSeconds * 1000) {
      stopped = true;
      return;
    }
    timer = setTimeout(tick, Math.max(0, next - performance.now()));
  };
  tick();

  return {
    /** Milliseconds since the load started. */
    now: () => performance.now() - started,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      const deadline = performance.now() + 15_000;
      while (inFlight > 0 && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      close();
      for (const entry of records) {
        if (entry.status === undefined && entry.error === undefined) entry.error = "NO_ANSWER";
      }
      return { records, seconds: (performance.now() - started) / 1000, rate };
    },
  };
}

/** Counts of a set of records: by status class, socket errors by code, latency percentiles. */
export function summarize(records) {
  const byClass = {};
  const errors = {};
  const latencies = [];
  for (const r of records) {
    if (r.error !== undefined) {
      errors[r.error] = (errors[r.error] ?? 0) + 1;
      continue;
    }
    const klass = `${Math.floor(r.status / 100)}xx`;
    byClass[klass] = (byClass[klass] ?? 0) + 1;
    latencies.push(r.ms);
  }
  latencies.sort((a, b) => a - b);
  const ok = byClass["2xx"] ?? 0;
  const socketErrors = Object.values(errors).reduce((a, b) => a + b, 0);
  return {
    sent: records.length,
    ok,
    non2xx: records.length - ok - socketErrors,
    socketErrors,
    byClass,
    errors,
    p50: sortedPercentile(latencies, 50),
    p99: sortedPercentile(latencies, 99),
    p999: sortedPercentile(latencies, 99.9),
    max: latencies.at(-1) ?? Number.NaN,
    over1s: latencies.filter((ms) => ms > 1000).length,
  };
}

/** The p-th percentile (0–100) of `values`, by nearest rank. */
export function percentile(values, p) {
  return sortedPercentile(
    [...values].sort((a, b) => a - b),
    p,
  );
}

function sortedPercentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}
