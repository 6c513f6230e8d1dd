import { createHmac } from "node:crypto";
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WEBHOOK_CONCURRENT_BODIES } from "./hooks/routes.js";
import { pathOnly, registeredRoutes } from "./http.js";
import { buildTestServer, type TestServer, TOKEN } from "./test-server.js";

/**
 * A server with the app "example" whose fake dependencies fail the test if
 * reached: an unauthenticated request must never get that far.
 */
const build = () => buildTestServer({ app: "example" });

/** Fills `:param` segments so the URL matches the route. */
function concreteUrl(url: string): string {
  return url
    .replace(":repo", "example.git")
    .replace(":name", "example")
    .replace(":forge", "github")
    .replace(":app", "example")
    .replace(":number", "1")
    .replace(/:(\w+)/g, "example-$1");
}

describe("API authentication", () => {
  let current: TestServer | undefined;
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });

  it("answers 401 on every /api/v1 route without a token and with a wrong one, except the liveness probe", async () => {
    current = build();
    const { server } = current;
    await server.ready();
    const apiRoutes = registeredRoutes(server).filter((r) => r.url.startsWith("/api/"));
    // A guard against a walk that finds nothing and so proves nothing.
    expect(apiRoutes.length).toBeGreaterThanOrEqual(6);
    // Only the liveness probe may be public.
    expect(apiRoutes.filter((r) => r.public).map((r) => r.url)).toEqual(["/api/v1/healthz"]);

    const protectedRoutes = apiRoutes.filter((r) => !r.public);
    for (const route of protectedRoutes) {
      for (const authorization of [
        undefined,
        "Bearer wrong-token",
        `Basic ${btoa(`x:${TOKEN}`)}`,
        TOKEN,
      ]) {
        const response = await server.inject({
          method: route.method as "GET",
          url: concreteUrl(route.url),
          ...(authorization ? { headers: { authorization } } : {}),
        });
        expect({
          route: `${route.method} ${route.url}`,
          authorization,
          status: response.statusCode,
        }).toEqual({ route: `${route.method} ${route.url}`, authorization, status: 401 });
        expect(response.headers["www-authenticate"]).toBe('Bearer realm="skiff"');
        expect(response.json().error.code).toBe("unauthorized");
      }
    }
    const probe = await server.inject({ method: "GET", url: "/api/v1/healthz" });
    expect(probe.statusCode).toBe(200);
  });

  it("answers 401 on the git, pre-receive and webhook routes without credentials and with wrong ones", async () => {
    current = build();
    const { server } = current;
    await server.ready();
    const outside = registeredRoutes(server).filter((r) => !r.url.startsWith("/api/"));
    // Only the dashboard's page and assets answer without credentials: they hold no data.
    expect(outside.filter((r) => r.public).map((r) => `${r.method} ${r.url}`)).toEqual([
      "GET /",
      "GET /dashboard/:file",
    ]);
    const routes = outside.filter((r) => !r.public);
    expect(routes.map((r) => `${r.method} ${r.url}`).sort()).toEqual([
      "GET /git/:repo/info/refs",
      "POST /git/:repo/git-receive-pack",
      "POST /git/:repo/git-upload-pack",
      "POST /hooks/:forge/:app",
      "POST /internal/git/pre-receive",
    ]);
    for (const route of routes) {
      const wrong = route.url.startsWith("/git/")
        ? `Basic ${btoa("git:skiff_wrong")}`
        : "Bearer skiff_wrong";
      for (const authorization of [undefined, wrong, `Bearer ${TOKEN}`]) {
        const response = await server.inject({
          method: route.method as "GET",
          url: concreteUrl(route.url),
          ...(authorization ? { headers: { authorization } } : {}),
        });
        expect({ route: route.url, authorization, status: response.statusCode }).toEqual({
          route: route.url,
          authorization,
          status: 401,
        });
      }
    }
  });

  it("lets a request with the admin token through to the handler", async () => {
    current = build();
    current.store.recordEvent("edge", "started", "started (pid 1)");
    const response = await current.server.inject({
      method: "GET",
      url: "/api/v1/events",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json().events).toMatchObject([{ component: "edge", kind: "started" }]);
  });

  it.each([
    "/%61pi/v1/status",
    "/api/v1/%73tatus",
    "/%61%70%69/v1/apps",
    "/api/v1/apps/%65xample",
    "//api/v1/status",
    "/API/v1/status",
  ])("answers 401 to the encoded or odd path %s", async (url) => {
    current = build();
    const response = await current.server.inject({ method: "GET", url });
    expect(response.statusCode).toBe(401);
  });

  it("answers an unknown API path with 401 before revealing whether it exists", async () => {
    current = build();
    const response = await current.server.inject({ method: "GET", url: "/api/v1/nope" });
    expect(response.statusCode).toBe(401);
  });
});

/** What a client that sends a big body saw: the status line, the bytes it got to send, whether it was cut off. */
interface RawPost {
  status: number | undefined;
  headers: string;
  sent: number;
  total: number;
}

/**
 * POSTs `total` bytes over a raw socket, as fast as the connection takes
 * them, and reads whatever the server answers meanwhile. A server that
 * refuses without reading the body answers and closes while most of it is
 * still unsent (the kernel's socket buffers hold a few MB at most); one that
 * reads the body lets all of it through.
 */
function rawPost(
  port: number,
  path: string,
  headers: Record<string, string>,
  total: number,
  options: { hold?: boolean } = {},
): { done: Promise<RawPost>; destroy(): void } {
  const socket = connect(port, "127.0.0.1");
  const done = new Promise<RawPost>((resolve) => {
    let sent = 0;
    let answer = "";
    socket.on("data", (chunk) => {
      answer += chunk.toString("latin1");
    });
    // EPIPE or ECONNRESET: the server closed the connection under the upload.
    socket.on("error", () => {});
    // The server's FIN follows its whole answer: a client stops sending then.
    socket.on("end", () => socket.destroy());
    socket.on("close", () => {
      const [head = ""] = answer.split("\r\n\r\n");
      const status = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[1];
      resolve({ status: status ? Number(status) : undefined, headers: head, sent, total });
    });
    const head = Object.entries({ host: "127.0.0.1", "content-length": String(total), ...headers })
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join("");
    socket.write(`POST ${path} HTTP/1.1\r\n${head}\r\n`);
    const chunk = Buffer.alloc(64 * 1024, 0x7b);
    const pump = () => {
      while (sent < total && !socket.destroyed) {
        sent += chunk.length;
        if (!socket.write(chunk)) {
          socket.once("drain", pump);
          return;
        }
      }
      if (sent >= total) socket.end();
    };
    // A held upload sends its headers and one chunk, then waits: a body being read.
    if (options.hold) socket.write(chunk, () => (sent += chunk.length));
    else pump();
  });
  return { done, destroy: () => socket.destroy() };
}

const MB = 1024 * 1024;

describe("request bodies", () => {
  let current: TestServer | undefined;
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });

  async function listening(): Promise<{ server: TestServer; port: number }> {
    current = build();
    await current.server.listen({ host: "127.0.0.1", port: 0 });
    const address = current.server.server.address();
    if (typeof address !== "object" || !address) throw new Error("not listening");
    return { server: current, port: address.port };
  }

  const githubHeaders = {
    "content-type": "application/json",
    "x-github-event": "push",
    "x-hub-signature-256": `sha256=${"0".repeat(64)}`,
  };

  it("answers 20 concurrent 24 MB webhooks to unknown apps without reading their bodies", async () => {
    const { port } = await listening();
    const posts = Array.from({ length: 20 }, (_, i) =>
      rawPost(port, `/hooks/github/no-such-app-${i}`, githubHeaders, 24 * MB),
    );
    const results = await Promise.all(posts.map((p) => p.done));
    for (const result of results) {
      expect(result.status).toBe(401);
      expect(result.headers.toLowerCase()).toContain("connection: close");
      // The connection closed with most of the body unsent: nobody read it.
      expect(result.sent).toBeLessThan(result.total / 2);
    }
  });

  it.each([
    ["an unknown forge", "/hooks/bitbucket/example", githubHeaders, 404],
    ["an app without a webhook secret", "/hooks/github/example", githubHeaders, 401],
    [
      "a webhook without its signature header",
      "/hooks/github/example",
      { "content-type": "application/json", "x-github-event": "push" },
      401,
    ],
    [
      "a malformed signature",
      "/hooks/github/example",
      { ...githubHeaders, "x-hub-signature-256": "sha1=abc" },
      401,
    ],
    [
      "an upload without a token",
      "/api/v1/apps/example/deploy",
      { "content-type": "application/x-tar" },
      401,
    ],
    [
      "an upload with a wrong token",
      "/api/v1/apps/example/deploy",
      { "content-type": "application/x-tar", authorization: "Bearer skiff_wrong" },
      401,
    ],
    [
      "an upload to an unknown app",
      "/api/v1/apps/nope/deploy",
      { "content-type": "application/x-tar", authorization: `Bearer ${TOKEN}` },
      404,
    ],
    ["a POST no route takes", "/nowhere", { "content-type": "application/json" }, 404],
    [
      "a JSON API call without a token",
      "/api/v1/apps",
      { "content-type": "application/json" },
      401,
    ],
  ])("refuses %s before reading its body", async (_what, path, headers, status) => {
    const { port } = await listening();
    const result = await rawPost(port, path, headers, 24 * MB).done;
    expect(result.status).toBe(status);
    expect(result.sent).toBeLessThan(result.total / 2);
  });

  it("refuses a webhook body over 25 MB from its Content-Length alone", async () => {
    const { server, port } = await listening();
    server.store.webhookSecret("example");
    const result = await rawPost(port, "/hooks/github/example", githubHeaders, 26 * MB).done;
    expect(result.status).toBe(413);
    expect(result.sent).toBeLessThan(result.total / 2);
  });

  it(`reads at most ${WEBHOOK_CONCURRENT_BODIES} webhook bodies at once and asks the rest to retry`, async () => {
    const { server, port } = await listening();
    server.store.webhookSecret("example");
    const held = Array.from({ length: WEBHOOK_CONCURRENT_BODIES }, () =>
      rawPost(port, "/hooks/github/example", githubHeaders, MB, { hold: true }),
    );
    // The held uploads are being read once the server counts them; wait for that.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const busy = await rawPost(port, "/hooks/github/example", githubHeaders, 24 * MB).done;
    expect(busy.status).toBe(503);
    expect(busy.headers.toLowerCase()).toMatch(/retry-after: \d+/);
    expect(busy.sent).toBeLessThan(busy.total / 2);

    // A client that goes away mid-body gives its slot back.
    for (const upload of held) upload.destroy();
    await Promise.all(held.map((upload) => upload.done));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const body = JSON.stringify({ zen: "ping" });
    const signature = createHmac("sha256", server.store.webhookSecret("example") as string)
      .update(body)
      .digest("hex");
    const after = await server.server.inject({
      method: "POST",
      url: "/hooks/github/example",
      headers: {
        "content-type": "application/json",
        "x-github-event": "ping",
        "x-hub-signature-256": `sha256=${signature}`,
      },
      payload: body,
    });
    expect(after.statusCode).toBe(202);
  });
});

describe("webhook deliveries", () => {
  let current: TestServer | undefined;
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });

  function deliver(server: TestServer, body: string, delivery: string) {
    const secret = server.store.webhookSecret("example") as string;
    return server.server.inject({
      method: "POST",
      url: "/hooks/github/example",
      headers: {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": delivery,
        "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
      },
      payload: body,
    });
  }

  it("starts one run per delivery: a repeat, even under a new delivery id, answers 200 and starts nothing", async () => {
    current = build();
    // An unreachable repository: the run fails fetching, which is not what this test is about.
    current.store.updateApp("example", { repoUrl: "file:///nonexistent/skiff-test.git" });
    const body = JSON.stringify({ ref: "refs/heads/main", after: "a".repeat(40) });

    const first = await deliver(current, body, "delivery-1");
    expect([first.statusCode, first.json()]).toEqual([202, { accepted: true, run: 1 }]);
    const redelivered = await deliver(current, body, "delivery-1");
    const replayed = await deliver(current, body, "delivery-forged");
    for (const repeat of [redelivered, replayed]) {
      expect(repeat.statusCode).toBe(200);
      expect(repeat.json()).toMatchObject({ accepted: false });
    }
    await current.pipeline.idle();
    expect(current.runs.listRuns("example").map((r) => r.number)).toEqual([1]);

    // A new push (a new body) is a new delivery.
    const next = JSON.stringify({ ref: "refs/heads/main", after: "b".repeat(40) });
    expect((await deliver(current, next, "delivery-2")).statusCode).toBe(202);
    await current.pipeline.idle();
    expect(current.runs.listRuns("example")).toHaveLength(2);
  });

  it("records no payload commit on the run: the commit is what the fetch finds", async () => {
    current = build();
    current.store.updateApp("example", { repoUrl: "file:///nonexistent/skiff-test.git" });
    const body = JSON.stringify({ ref: "refs/heads/main", after: "c".repeat(40) });
    expect((await deliver(current, body, "d")).statusCode).toBe(202);
    await current.pipeline.idle();
    const [run] = current.runs.listRuns("example");
    expect(run?.commit).toBeUndefined();
    expect(run?.status).toBe("failed");
  });
});

describe("the server log", () => {
  let current: TestServer | undefined;
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });

  it.each([
    ["/a/b?c=d", "/a/b"],
    ["/git/shop.git/info/refs?service=git-receive-pack", "/git/shop.git/info/refs"],
    ["/x#frag", "/x"],
    ["/plain", "/plain"],
  ])("pathOnly(%s) is %s", (url, path) => {
    expect(pathOnly(url)).toBe(path);
  });

  it("logs request paths without their query strings", async () => {
    const lines: string[] = [];
    current = buildTestServer({
      app: "example",
      logger: { level: "info", stream: { write: (line: string) => lines.push(line) } },
    });
    for (const url of [
      "/git/example.git/info/refs?service=git-receive-pack",
      "/api/v1/apps?token=skiff_leaked",
      "/nowhere?secret=leaked",
    ]) {
      await current.server.inject({ method: "GET", url });
    }
    const logged = lines.join("");
    // A guard: the requests were logged at all.
    expect(logged).toContain('"url":"/git/example.git/info/refs"');
    expect(logged).toContain('"url":"/api/v1/apps"');
    expect(logged).not.toContain("?");
    expect(logged).not.toContain("leaked");
  });
});
