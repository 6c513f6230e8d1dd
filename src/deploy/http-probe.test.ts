import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { type AddressInfo, connect, createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeHttp } from "./http-probe.js";

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
    const result = await probeHttp({ address: { host: "127.0.0.1", port }, path, timeoutMs: 300 });
    expect(result.ok).toBe(expected.ok);
    expect(result.status).toBe(expected.status);
    if (expected.error instanceof RegExp) expect(result.error).toMatch(expected.error);
    else expect(result.error).toBe(expected.error);
  });

  it("refused", async () => {
    expect(
      await probeHttp({
        address: { host: "127.0.0.1", port: closedPort },
        path: "/",
        timeoutMs: 1_000,
      }),
    ).toEqual({
      ok: false,
      error: "connection refused",
    });
  });

  it("sends the Host header it is given", async () => {
    hosts.length = 0;
    await probeHttp({
      address: { host: "127.0.0.1", port },
      path: "/ok",
      host: "shop.example.com",
      timeoutMs: 1_000,
    });
    await probeHttp({ address: { host: "127.0.0.1", port }, path: "/ok", timeoutMs: 1_000 });
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
    expect(
      await probeHttp({ address: { host: "127.0.0.1", port }, path: `/${path}`, timeoutMs: 2_000 }),
    ).toEqual(expected);
  });

  it("cuts a long refused first line", async () => {
    answers.long = `${"x".repeat(500)}\r\n\r\n`;
    const result = await probeHttp({
      address: { host: "127.0.0.1", port },
      path: "/long",
      timeoutMs: 2_000,
    });
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
      const result = await probeHttp({
        address: { host: "127.0.0.1", port },
        path: "/cgi-bin/health",
        timeoutMs: 1_000,
      });
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
    expect(
      await probeHttp({
        address: { host: "127.0.0.1", port },
        path: "/cgi-bin/health",
        timeoutMs: 2_000,
      }),
    ).toEqual({
      ok: true,
      status: 200,
    });
  });

  it("fails on a script's Status: 503, with the status", async () => {
    expect(
      await probeHttp({
        address: { host: "127.0.0.1", port },
        path: "/cgi-bin/starting",
        timeoutMs: 2_000,
      }),
    ).toEqual({
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
