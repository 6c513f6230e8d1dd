// A fixed-rate HTTP load: one GET every 1/rate seconds, whatever the
// answers take (an open loop, so a slow phase shows as latency and errors
// rather than as fewer requests), over a small pool of keep-alive
// connections to 127.0.0.1. Bounded by count and time: it stops by itself
// after `maxSeconds` even if nobody calls stop().

import { Agent, request } from "node:http";

/**
 * Starts the load; `stop()` resolves with what happened. `host` is the Host
 * header (the edge routes by it); `port` the TCP port on 127.0.0.1.
 */
export function fixedRateLoad({ port, host, path = "/", rate, connections = 8, maxSeconds = 600 }) {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const result = {
    sent: 0,
    byStatus: {},
    errors: {},
    latenciesMs: [],
    samples: [],
  };
  let inFlight = 0;
  let stopped = false;
  const started = performance.now();
  const intervalMs = 1000 / rate;
  let next = started;

  const fire = () => {
    result.sent++;
    inFlight++;
    const sentAt = performance.now();
    const req = request(
      { host: "127.0.0.1", port, path, agent, headers: { host }, timeout: 10_000 },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          if (body.length < 512) body += chunk;
        });
        res.on("end", () => {
          inFlight--;
          const status = res.statusCode ?? 0;
          const klass = `${Math.floor(status / 100)}xx`;
          result.byStatus[klass] = (result.byStatus[klass] ?? 0) + 1;
          result.latenciesMs.push(performance.now() - sentAt);
          if (status < 200 || status > 299) {
            result.samples.push(
              `${new Date().toISOString()} HTTP ${status}: ${body.slice(0, 120)}`,
            );
          }
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (error) => {
      inFlight--;
      const code = error.code ?? error.message;
      result.errors[code] = (result.errors[code] ?? 0) + 1;
      result.samples.push(`${new Date().toISOString()} socket error: ${code}`);
    });
    req.end();
  };

  let timer;
  const tick = () => {
    if (stopped) return;
    const now = performance.now();
    while (next <= now) {
      fire();
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
    async stop() {
      stopped = true;
      clearTimeout(timer);
      const deadline = performance.now() + 15_000;
      while (inFlight > 0 && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      agent.destroy();
      result.seconds = (performance.now() - started) / 1000;
      return result;
    },
  };
}

/** The p-th percentile (0–100) of `values`, by nearest rank. */
export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}
