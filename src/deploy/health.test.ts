import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { type AddressInfo, connect, createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PlanHealth } from "../spec/index.js";
import { crashReason, hostPortOf, probeHttp, waitUntilHealthy } from "./health.js";

type Info = Docker.ContainerInspectInfo;
type State = Info["State"];

const RUNNING: State = {
  Status: "running",
  Running: true,
  Paused: false,
  Restarting: false,
  OOMKilled: false,
  Dead: false,
  Pid: 42,
  ExitCode: 0,
  Error: "",
  StartedAt: "2024-01-01T00:00:00Z",
  FinishedAt: "0001-01-01T00:00:00Z",
};
const EXITED = (code: number): State => ({
  ...RUNNING,
  Status: "exited",
  Running: false,
  Pid: 0,
  ExitCode: code,
});
const RESTARTING = (code: number): State => ({ ...RUNNING, Restarting: true, ExitCode: code });

/** An inspect answer with only what the health wait reads. */
function info(
  state: State,
  more: { restarts?: number; hostPort?: number; test?: string[]; health?: State["Health"] } = {},
): Info {
  return {
    Name: "/skiff-shop-web-r1-1-abc123",
    RestartCount: more.restarts ?? 0,
    State: { ...state, ...(more.health && { Health: more.health }) },
    Config: {
      Labels: { "skiff.service": "web", "skiff.replica": "1" },
      ...(more.test && { Healthcheck: { Test: more.test } }),
    },
    NetworkSettings: {
      Ports:
        more.hostPort === undefined
          ? {}
          : { "3000/tcp": [{ HostIp: "127.0.0.1", HostPort: String(more.hostPort) }] },
    },
  } as unknown as Info;
}

/** A Docker client whose inspect answers come from `next`, called with the number of the call. */
function fakeDocker(next: (call: number) => Info | "gone"): Docker {
  let call = 0;
  return {
    getContainer: () => ({
      inspect: async () => {
        const answer = next(call++);
        if (answer === "gone")
          throw Object.assign(new Error("no such container"), { statusCode: 404 });
        return answer;
      },
    }),
  } as unknown as Docker;
}

const always = (i: Info) => fakeDocker(() => i);

describe("crashReason", () => {
  it.each<[string, Parameters<typeof crashReason>[0], string | undefined]>([
    ["running", { State: RUNNING, RestartCount: 0 }, undefined],
    [
      "created, not started yet",
      { State: { ...RUNNING, Status: "created", Running: false }, RestartCount: 0 },
      undefined,
    ],
    ["exited", { State: EXITED(3), RestartCount: 0 }, "exited with code 3"],
    ["exited 0 is still an exit", { State: EXITED(0), RestartCount: 0 }, "exited with code 0"],
    [
      "dead",
      { State: { ...EXITED(137), Status: "dead" }, RestartCount: 0 },
      "exited with code 137",
    ],
    [
      "restarting once",
      { State: RESTARTING(1), RestartCount: 1 },
      "exited with code 1; restarted 1 time (crash loop)",
    ],
    [
      "running again after restarts",
      { State: RUNNING, RestartCount: 3 },
      "restarted 3 times (crash loop)",
    ],
    [
      "killed for memory",
      { State: { ...EXITED(137), OOMKilled: true }, RestartCount: 0 },
      "was killed for using more memory than its limit (exit code 137); raise deploy.resources.limits.memory",
    ],
    [
      "could not start",
      {
        State: { ...EXITED(127), Error: 'exec: "nope": executable file not found in $PATH' },
        RestartCount: 0,
      },
      'could not run: exec: "nope": executable file not found in $PATH',
    ],
  ])("%s", (_name, input, expected) => {
    expect(crashReason(input)).toBe(expected);
  });
});

describe("hostPortOf", () => {
  const withPorts = (ports: Record<string, { HostIp: string; HostPort: string }[]>) =>
    ({ NetworkSettings: { Ports: ports } }) as unknown as Info;
  it.each<[string, Info, number | undefined]>([
    [
      "published on 127.0.0.1",
      withPorts({ "3000/tcp": [{ HostIp: "127.0.0.1", HostPort: "49153" }] }),
      49153,
    ],
    [
      "only on all interfaces",
      withPorts({ "3000/tcp": [{ HostIp: "0.0.0.0", HostPort: "49153" }] }),
      undefined,
    ],
    [
      "another port",
      withPorts({ "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "49153" }] }),
      undefined,
    ],
    ["not running (no ports)", withPorts({}), undefined],
    [
      "no host port yet",
      withPorts({ "3000/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] }),
      undefined,
    ],
  ])("%s", (_name, input, expected) => {
    expect(hostPortOf(input, 3000)).toBe(expected);
  });
});

describe("probeHttp", () => {
  let server: Server;
  let port: number;
  let closedPort: number;
  const hosts: (string | undefined)[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      hosts.push(req.headers.host);
      if (req.url === "/ok") res.writeHead(204).end();
      else if (req.url === "/moved") res.writeHead(302, { location: "/broken" }).end();
      else if (req.url === "/broken") res.writeHead(500).end();
      else if (req.url === "/slow") setTimeout(() => res.writeHead(200).end(), 2_000);
      else if (req.url === "/hangup") req.socket.destroy();
      else res.writeHead(503).end("starting");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
    const spare = createServer();
    await new Promise<void>((resolve) => spare.listen(0, "127.0.0.1", resolve));
    closedPort = (spare.address() as AddressInfo).port;
    await new Promise((resolve) => spare.close(resolve));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it.each<[string, string, { ok: boolean; status?: number; error?: string | RegExp }]>([
    ["2xx is healthy", "/ok", { ok: true, status: 204 }],
    ["3xx is healthy, and not followed", "/moved", { ok: true, status: 302 }],
    ["5xx is not", "/starting", { ok: false, status: 503 }],
    ["no answer in time", "/slow", { ok: false, error: "no answer within 300 ms" }],
    [
      "closed without an answer",
      "/hangup",
      { ok: false, error: /^connection closed without an answer/ },
    ],
  ])("%s", async (_name, path, expected) => {
    const result = await probeHttp({ port, path, timeoutMs: 300 });
    expect(result.ok).toBe(expected.ok);
    expect(result.status).toBe(expected.status);
    if (expected.error instanceof RegExp) expect(result.error).toMatch(expected.error);
    else expect(result.error).toBe(expected.error);
  });

  it("refused", async () => {
    expect(await probeHttp({ port: closedPort, path: "/", timeoutMs: 1_000 })).toEqual({
      ok: false,
      error: "connection refused",
    });
  });

  it("sends the Host header it is given", async () => {
    hosts.length = 0;
    await probeHttp({ port, path: "/ok", host: "shop.example.com", timeoutMs: 1_000 });
    await probeHttp({ port, path: "/ok", timeoutMs: 1_000 });
    expect(hosts).toEqual(["shop.example.com", `127.0.0.1:${port}`]);
  });
});

/**
 * Answers HAProxy 2.6's check accepts that Node's default parser refuses, and
 * answers both refuse, as raw bytes. The verdicts are what HAProxy's `http-check
 * expect status 200-399` gave for the same bytes (measured; see probeHttp).
 */
describe("probeHttp on answers as servers write them", () => {
  const answers: Record<string, string> = {
    "lf-only": "HTTP/1.1 200 OK\nContent-Type: text/plain\n\nok",
    "lf-only-503": "HTTP/1.1 503 Service Unavailable\nContent-Type: text/plain\n\nstarting",
    "cgi-style": "HTTP/1.1 200 OK\r\nContent-Type: text/plain\n\nok\n",
    "no-reason": "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
    "no-reason-lf": "HTTP/1.1 204\n\n",
    "http-1.0": "HTTP/1.0 200 OK\r\n\r\nbody until close",
    "no-space": "HTTP/1.1 200 OK\r\nContent-Type:text/plain\r\nContent-Length:2\r\n\r\nok",
    "obs-fold": "HTTP/1.1 200 OK\r\nX-Note: one\r\n two\r\nContent-Length: 2\r\n\r\nok",
    "no-length": "HTTP/1.1 200 OK\r\n\r\nbody until close",
    "cgi-raw": "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nok",
    binary: "\u0000\u0001\u0002garbage\r\n\r\n",
    "space-before-colon": "HTTP/1.1 200 OK\r\nX-Note : b\r\n\r\n",
    "two-lengths": "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
  };
  let server: ReturnType<typeof createTcpServer>;
  let port: number;

  beforeAll(async () => {
    // Writes the answer named by the request's path once the request's head is in, then closes.
    server = createTcpServer((socket) => {
      let head = "";
      socket.setEncoding("latin1");
      socket.on("data", (chunk) => {
        head += chunk;
        if (!head.includes("\r\n\r\n")) return;
        const name = head.split(" ")[1]?.slice(1) ?? "";
        socket.end(answers[name] ?? "HTTP/1.1 404 Not Found\r\n\r\n", "latin1");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it.each<[string, string, { ok: boolean; status?: number; error?: string }]>([
    ["LF-only header lines", "lf-only", { ok: true, status: 200 }],
    ["LF-only lines, failing status", "lf-only-503", { ok: false, status: 503 }],
    [
      "a CRLF status line over LF-only headers (busybox httpd CGI)",
      "cgi-style",
      { ok: true, status: 200 },
    ],
    ["no reason phrase", "no-reason", { ok: true, status: 200 }],
    ["no reason phrase, LF only", "no-reason-lf", { ok: true, status: 204 }],
    ["an HTTP/1.0 answer", "http-1.0", { ok: true, status: 200 }],
    ["no space after the colon", "no-space", { ok: true, status: 200 }],
    ["an obs-fold continuation line", "obs-fold", { ok: true, status: 200 }],
    ["no Content-Length, closed at the end", "no-length", { ok: true, status: 200 }],
    [
      "a CGI script's output served raw",
      "cgi-raw",
      {
        ok: false,
        error: 'not a valid HTTP answer (Expected HTTP/, RTSP/ or ICE/); received "Status: 200 OK"',
      },
    ],
    [
      "binary garbage",
      "binary",
      {
        ok: false,
        error:
          'not a valid HTTP answer (Expected HTTP/, RTSP/ or ICE/); received "\\u0000\\u0001\\u0002garbage"',
      },
    ],
    [
      "a space before a colon (HAProxy refuses it too)",
      "space-before-colon",
      {
        ok: false,
        error: 'not a valid HTTP answer (Invalid header token); received "HTTP/1.1 200 OK"',
      },
    ],
    [
      "two different Content-Lengths (HAProxy refuses it too)",
      "two-lengths",
      {
        ok: false,
        error: 'not a valid HTTP answer (Duplicate Content-Length); received "HTTP/1.1 200 OK"',
      },
    ],
  ])("%s", async (_name, path, expected) => {
    expect(await probeHttp({ port, path: `/${path}`, timeoutMs: 2_000 })).toEqual(expected);
  });

  it("cuts a long refused first line", async () => {
    answers.long = `${"x".repeat(500)}\r\n\r\n`;
    const result = await probeHttp({ port, path: "/long", timeoutMs: 2_000 });
    expect(result.error).toBe(
      `not a valid HTTP answer (Expected HTTP/, RTSP/ or ICE/); received "${"x".repeat(60)}…"`,
    );
  });
});

// busybox httpd runs CGI scripts and passes their LF-only header lines through: the
// answer HAProxy serves and Node's default parser refuses. setup.sh installs it
// (busybox-static); elsewhere the raw answers above stand in for it.
const BUSYBOX = ["/bin/busybox", "/usr/bin/busybox"].find((path) => existsSync(path));

describe.skipIf(BUSYBOX === undefined)("probeHttp against busybox httpd CGI scripts", () => {
  let dir: string;
  let port: number;
  let httpd: ReturnType<typeof spawn>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "skiff-probe-"));
    mkdirSync(join(dir, "cgi-bin"));
    const script = (name: string, output: string) => {
      writeFileSync(join(dir, "cgi-bin", name), `#!/bin/sh\nprintf '${output}'\n`);
      chmodSync(join(dir, "cgi-bin", name), 0o755);
    };
    script("health", "Content-Type: text/plain\\n\\nok\\n");
    script("starting", "Status: 503 Starting\\nContent-Type: text/plain\\n\\nstarting\\n");
    port = await freeTcpPort();
    httpd = spawn(BUSYBOX as string, ["httpd", "-f", "-p", `127.0.0.1:${port}`, "-h", dir], {
      stdio: "ignore",
    });
    for (const until = Date.now() + 5_000; ; await sleep(20)) {
      const result = await probeHttp({ port, path: "/cgi-bin/health", timeoutMs: 1_000 });
      if (result.error !== "connection refused" || Date.now() > until) break;
    }
  });
  afterAll(() => {
    if (httpd.pid !== undefined && httpd.exitCode === null) process.kill(httpd.pid);
    rmSync(dir, { recursive: true, force: true });
  });

  it("passes on a script's 200, answered with LF-only header lines", async () => {
    expect(await rawAnswer(port, "/cgi-bin/health")).toMatch(
      /^HTTP\/1\.1 200 OK\r\nContent-Type: text\/plain\n\n/,
    );
    expect(await probeHttp({ port, path: "/cgi-bin/health", timeoutMs: 2_000 })).toEqual({
      ok: true,
      status: 200,
    });
  });

  it("fails on a script's Status: 503, with the status", async () => {
    expect(await probeHttp({ port, path: "/cgi-bin/starting", timeoutMs: 2_000 })).toEqual({
      ok: false,
      status: 503,
    });
  });
});

/** A port nothing listens on right now. */
async function freeTcpPort(): Promise<number> {
  const spare = createTcpServer();
  await new Promise<void>((resolve) => spare.listen(0, "127.0.0.1", resolve));
  const { port } = spare.address() as AddressInfo;
  await new Promise((resolve) => spare.close(resolve));
  return port;
}

/** The bytes a server answers to a plain GET, as latin1 text. */
function rawAnswer(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const socket = connect({ host: "127.0.0.1", port }, () =>
      socket.end(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`),
    );
    socket.setEncoding("latin1");
    socket.on("data", (chunk) => (text += chunk));
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}

describe("waitUntilHealthy", () => {
  const fast = { pollMs: 5 };
  const running = (stableMs: number): PlanHealth => ({ type: "running", stableMs });

  it("running: healthy once it has run stableMs, with the host port when asked", async () => {
    const start = Date.now();
    const verdict = await waitUntilHealthy(
      always(info(RUNNING, { hostPort: 49153 })),
      "c",
      running(100),
      {
        ...fast,
        containerPort: 3000,
      },
    );
    expect(verdict).toEqual({ healthy: true, hostPort: 49153 });
    expect(Date.now() - start).toBeGreaterThanOrEqual(100);
  });

  it.each<[string, (call: number) => Info | "gone", string]>([
    ["exited", (n) => (n < 3 ? info(RUNNING) : info(EXITED(3))), "exited with code 3"],
    [
      "restarted by Docker",
      (n) => (n < 3 ? info(RUNNING) : info(RUNNING, { restarts: 1 })),
      "restarted 1 time (crash loop)",
    ],
    [
      "restarting",
      (n) => (n < 3 ? info(RUNNING) : info(RESTARTING(1), { restarts: 2 })),
      "exited with code 1; restarted 2 times (crash loop)",
    ],
    [
      "removed",
      (n) => (n < 3 ? info(RUNNING) : "gone"),
      "the container was removed while Skiff waited",
    ],
  ])("running: fails at once when %s", async (_name, next, reason) => {
    const start = Date.now();
    const verdict = await waitUntilHealthy(fakeDocker(next), "c", running(60_000), fast);
    expect(verdict).toEqual({ healthy: false, reason });
    expect(Date.now() - start).toBeLessThan(2_000);
  });

  it("docker: waits for Docker's healthy, and fails at once on unhealthy with the check's output", async () => {
    const health: PlanHealth = {
      type: "docker",
      test: ["CMD", "check"],
      intervalMs: 10,
      timeoutMs: 10,
      retries: 3,
      startPeriodMs: 0,
      deadlineMs: 5_000,
    };
    const log = (output: string) => [{ Start: "", End: "", ExitCode: 1, Output: output }];
    const test = ["CMD", "check"];
    const healthy = await waitUntilHealthy(
      fakeDocker((n) =>
        info(RUNNING, {
          test,
          health: { Status: n < 3 ? "starting" : "healthy", FailingStreak: 0, Log: [] },
        }),
      ),
      "c",
      health,
      fast,
    );
    expect(healthy).toEqual({ healthy: true });
    const unhealthy = await waitUntilHealthy(
      always(
        info(RUNNING, {
          test,
          health: { Status: "unhealthy", FailingStreak: 3, Log: log("db not ready\nretrying\n") },
        }),
      ),
      "c",
      health,
      fast,
    );
    expect(unhealthy).toEqual({
      healthy: false,
      reason:
        "Docker reports it unhealthy after 3 failed checks; last check: exit 1: db not ready | retrying",
    });
    const late = await waitUntilHealthy(
      always(
        info(RUNNING, { test, health: { Status: "starting", FailingStreak: 1, Log: log("nope") } }),
      ),
      "c",
      { ...health, deadlineMs: 50 },
      fast,
    );
    expect(late).toEqual({
      healthy: false,
      reason:
        "Docker did not report it healthy within 50 ms; health starting; last check: exit 1: nope",
    });
    const none = await waitUntilHealthy(always(info(RUNNING)), "c", health, fast);
    expect(none).toMatchObject({
      healthy: false,
      reason: expect.stringMatching(/^has no health check to wait for/),
    });
  });

  describe("http", () => {
    let server: Server;
    let port: number;
    let ready = false;
    beforeAll(async () => {
      server = createServer((req, res) =>
        res.writeHead(ready && req.url === "/up" ? 200 : 503).end(),
      );
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    const http = (deadlineMs: number): Extract<PlanHealth, { type: "http" }> => ({
      type: "http",
      port: 3000,
      path: "/up",
      intervalMs: 10,
      retries: 3,
      deadlineMs,
    });

    it("probes through the published port until 2xx/3xx", async () => {
      ready = false;
      setTimeout(() => {
        ready = true;
      }, 100);
      const verdict = await waitUntilHealthy(
        always(info(RUNNING, { hostPort: port })),
        "c",
        http(5_000),
        fast,
      );
      expect(verdict).toEqual({ healthy: true, hostPort: port });
    });

    it("checks a starting app again at once, but an answering one only after the interval", async () => {
      // Nothing listens on `idle` yet: the app is still starting.
      const idle = createServer((req, res) => res.writeHead(req.url === "/up" ? 200 : 503).end());
      await new Promise<void>((resolve) => idle.listen(0, "127.0.0.1", resolve));
      const idlePort = (idle.address() as AddressInfo).port;
      await new Promise((resolve) => idle.close(resolve));
      setTimeout(() => idle.listen(idlePort, "127.0.0.1"), 300);
      const slowInterval = (deadlineMs: number): PlanHealth => ({
        ...http(deadlineMs),
        intervalMs: 60_000,
      });
      try {
        // Refused connections are retried well within the 60 s interval.
        expect(
          await waitUntilHealthy(
            always(info(RUNNING, { hostPort: idlePort })),
            "c",
            slowInterval(5_000),
            fast,
          ),
        ).toEqual({ healthy: true, hostPort: idlePort });
      } finally {
        idle.closeAllConnections();
        await new Promise((resolve) => idle.close(resolve));
      }
      // An HTTP answer that fails waits out the interval, so becoming ready meanwhile does not count.
      ready = false;
      setTimeout(() => {
        ready = true;
      }, 100);
      expect(
        await waitUntilHealthy(
          always(info(RUNNING, { hostPort: port })),
          "c",
          slowInterval(500),
          fast,
        ),
      ).toEqual({
        healthy: false,
        reason: "GET /up answered no 2xx or 3xx within 500 ms; last check: HTTP 503",
      });
    });

    it("at the deadline, says what the last check answered", async () => {
      ready = false;
      expect(
        await waitUntilHealthy(always(info(RUNNING, { hostPort: port })), "c", http(100), fast),
      ).toEqual({
        healthy: false,
        reason: "GET /up answered no 2xx or 3xx within 100 ms; last check: HTTP 503",
      });
      expect(await waitUntilHealthy(always(info(RUNNING)), "c", http(100), fast)).toEqual({
        healthy: false,
        reason:
          "GET /up answered no 2xx or 3xx within 100 ms; last check: port 3000 is not published on 127.0.0.1",
      });
    });
  });

  it("reports progress now and then, not once per poll", async () => {
    const lines: string[] = [];
    await waitUntilHealthy(always(info(RUNNING)), "c", running(2_300), {
      ...fast,
      onProgress: (line) => lines.push(line),
    });
    // Hundreds of polls; quiet for the first second, then a line when the answer changes or every 5 s.
    expect(lines).toEqual([
      "waiting for web replica 1: running; healthy after 2.3 s without a restart (1 s)",
    ]);
  });

  it("stops when aborted", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("run cancelled")), 50);
    await expect(
      waitUntilHealthy(always(info(RUNNING)), "c", running(60_000), {
        ...fast,
        signal: controller.signal,
      }),
    ).rejects.toThrow("run cancelled");
  });
});
