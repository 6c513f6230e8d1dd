import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  freePort,
  pushTinyImage,
  startTestRegistry,
  type TestRegistry,
} from "../../test/support/registry-image.js";
import { ValidationError } from "../errors.js";
import { Secret } from "../secret.js";
import { normaliseRegistryUrl, RegistryClient, RegistryError } from "./client.js";

const REGISTRY_START_MS = 30_000;

describe("RegistryClient against Docker Distribution", () => {
  let registry: TestRegistry;
  const pushed: Record<string, string> = {};

  beforeAll(async () => {
    registry = await startTestRegistry();
    const images: [string, string, string][] = [
      ["shop/web", "v1", "web one"],
      ["shop/web", "latest", "web one"], // same content: same manifest digest as v1
      ["shop/web", "v2", "web two"],
      ["shop/api", "v1", "api one"],
      ["other/web", "v1", "other"],
      ["shopping/web", "v1", "not shop's"],
    ];
    for (const [repository, tag, content] of images) {
      pushed[`${repository}:${tag}`] = (
        await pushTinyImage(registry.url, repository, tag, { content })
      ).digest;
    }
  }, REGISTRY_START_MS);

  afterAll(async () => {
    await registry?.stop();
  });

  it("pings a running registry", async () => {
    expect(await new RegistryClient({ url: registry.url }).ping()).toEqual({
      ok: true,
      apiVersion: "registry/2.0",
    });
  });

  it("pings a closed port without throwing, naming the URL and the cause", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const ping = await new RegistryClient({ url }).ping();
    expect(ping.ok).toBe(false);
    if (ping.ok) return;
    expect(ping.status).toBeUndefined();
    expect(ping.reason).toContain(`registry ${url}:`);
    expect(ping.reason).toContain("connection refused");
    expect(ping.hint).toMatch(/start the registry/);
  });

  it("lists the catalog, following Link pagination", async () => {
    const expected = ["other/web", "shop/api", "shop/web", "shopping/web"];
    expect(await new RegistryClient({ url: registry.url }).catalog()).toEqual(expected);
    expect(await new RegistryClient({ url: registry.url, pageSize: 1 }).catalog()).toEqual(
      expected,
    );
  });

  it("lists tags; a repository the registry does not know has none", async () => {
    const client = new RegistryClient({ url: registry.url });
    expect((await client.tags("shop/web")).sort()).toEqual(["latest", "v1", "v2"]);
    expect(await client.tags("nobody/here")).toEqual([]);
  });

  it("answers the pushed v2 digest for a tag, undefined for what is not there", async () => {
    const client = new RegistryClient({ url: registry.url });
    expect(await client.manifestDigest("shop/web", "v2")).toBe(pushed["shop/web:v2"]);
    expect(await client.manifestDigest("shop/api", "v1")).toBe(pushed["shop/api:v1"]);
    const digest = pushed["shop/web:v1"] ?? "";
    expect(await client.manifestDigest("shop/web", digest)).toBe(digest);
    expect(await client.manifestDigest("shop/web", "v9")).toBeUndefined();
    expect(await client.manifestDigest("nobody/here", "v1")).toBeUndefined();
  });

  it("deletes every tag under an app prefix and nothing else", async () => {
    const client = new RegistryClient({ url: registry.url });
    const deleted = await client.deleteRepositoryTags("shop");
    expect(deleted).toEqual([
      { repository: "shop/api", tag: "v1", digest: pushed["shop/api:v1"] },
      { repository: "shop/web", tag: "latest", digest: pushed["shop/web:v1"] },
      { repository: "shop/web", tag: "v1", digest: pushed["shop/web:v1"] },
      { repository: "shop/web", tag: "v2", digest: pushed["shop/web:v2"] },
    ]);
    expect(pushed["shop/web:latest"]).toBe(pushed["shop/web:v1"]);
    expect(await client.tags("shop/web")).toEqual([]);
    expect(await client.tags("shop/api")).toEqual([]);
    expect(await client.manifestDigest("shop/web", "v2")).toBeUndefined();
    expect(await client.manifestDigest("other/web", "v1")).toBe(pushed["other/web:v1"]);
    expect(await client.manifestDigest("shopping/web", "v1")).toBe(pushed["shopping/web:v1"]);
    // Deleting again finds nothing; deleting a gone manifest is not an error.
    expect(await client.deleteRepositoryTags("shop")).toEqual([]);
    await client.deleteManifest("shop/web", pushed["shop/web:v2"] ?? "");
  });

  it("refuses to delete by tag before asking the registry", async () => {
    const client = new RegistryClient({ url: registry.url });
    await expect(client.deleteManifest("other/web", "v1")).rejects.toThrow(ValidationError);
    expect(await client.manifestDigest("other/web", "v1")).toBe(pushed["other/web:v1"]);
  });
});

describe("RegistryClient against a registry with deletes disabled", () => {
  let registry: TestRegistry;
  let digest: string;

  beforeAll(async () => {
    registry = await startTestRegistry({ deleteEnabled: false });
    ({ digest } = await pushTinyImage(registry.url, "shop/web", "v1"));
  }, REGISTRY_START_MS);

  afterAll(async () => {
    await registry?.stop();
  });

  it("throws a RegistryError that says how to enable deletes", async () => {
    const client = new RegistryClient({ url: registry.url });
    const error = await client.deleteManifest("shop/web", digest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    const failure = error as RegistryError;
    expect(failure.status).toBe(405);
    expect(failure.code).toBe("UNSUPPORTED");
    expect(failure.registry).toBe(registry.url);
    expect(failure.message).toContain(`registry ${registry.url}: could not delete manifest`);
    expect(failure.message).toContain("deletes disabled");
    expect(failure.hint).toContain("storage: delete: enabled: true");
    await expect(client.deleteRepositoryTags("shop")).rejects.toThrow(/deletes disabled/);
    expect(await client.manifestDigest("shop/web", "v1")).toBe(digest);
  });
});

/** What a fake server saw: enough to assert the exact auth headers a client sent. */
interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
}

interface FakeServer {
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}

async function fakeServer(
  handle: (req: IncomingMessage, res: ServerResponse, base: string) => void,
): Promise<FakeServer> {
  const seen: Seen[] = [];
  let base = "";
  const server = createServer((req, res) => {
    seen.push({
      method: req.method ?? "",
      url: req.url ?? "",
      authorization: req.headers.authorization,
    });
    handle(req, res, base);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function reply(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    "content-type": "application/json",
    "docker-distribution-api-version": "registry/2.0",
    ...headers,
  });
  res.end(body === undefined ? "" : JSON.stringify(body));
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

const PASSWORD = "correct-horse-battery";
const TAGS = { name: "shop/web", tags: ["v1"] };

describe("RegistryClient authentication", () => {
  const servers: FakeServer[] = [];
  async function serve(handle: Parameters<typeof fakeServer>[0]): Promise<FakeServer> {
    const server = await fakeServer(handle);
    servers.push(server);
    return server;
  }
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  /** A registry behind htpasswd-style Basic auth that echoes what it got in its error. */
  function basicRegistry() {
    return serve((req, res) => {
      if (req.headers.authorization === basic("ops", PASSWORD)) return reply(res, 200, TAGS);
      reply(
        res,
        401,
        {
          errors: [
            {
              code: "UNAUTHORIZED",
              message: `authentication required, got ${req.headers.authorization}`,
            },
          ],
        },
        { "www-authenticate": 'Basic realm="Registry Realm"' },
      );
    });
  }

  it("answers a Basic challenge, then sends Basic up front", async () => {
    const server = await basicRegistry();
    const client = new RegistryClient({
      url: server.url,
      credentials: { username: "ops", password: new Secret(PASSWORD) },
    });
    expect(await client.tags("shop/web")).toEqual(["v1"]);
    expect(await client.tags("shop/web")).toEqual(["v1"]);
    const path = "/v2/shop/web/tags/list";
    expect(server.seen).toEqual([
      { method: "GET", url: path, authorization: undefined },
      { method: "GET", url: path, authorization: basic("ops", PASSWORD) },
      { method: "GET", url: path, authorization: basic("ops", PASSWORD) },
    ]);
  });

  it("reports rejected Basic credentials without the password", async () => {
    const server = await basicRegistry();
    const wrong = "wrong-password-123";
    const client = new RegistryClient({
      url: server.url,
      credentials: { username: "ops", password: new Secret(wrong) },
    });
    const error = (await client.tags("shop/web").catch((e: unknown) => e)) as RegistryError;
    expect(error).toBeInstanceOf(RegistryError);
    expect(error.status).toBe(401);
    expect(error.message).toContain('rejected the credentials of user "ops"');
    expect(error.hint).toContain("SKIFF_REGISTRY_PASSWORD");
    const everything = [error.message, error.hint, inspect(error), JSON.stringify(error)].join();
    expect(everything).not.toContain(wrong);
    expect(everything).not.toContain(basic("ops", wrong).slice(6));
    expect(inspect(client)).not.toContain(wrong);

    const ping = await client.ping();
    expect(ping).toMatchObject({ ok: false, status: 401 });
    expect(JSON.stringify(ping)).not.toContain(wrong);
  });

  it("says credentials are needed when it has none", async () => {
    const server = await basicRegistry();
    const ping = await new RegistryClient({ url: server.url }).ping();
    expect(ping).toMatchObject({ ok: false, status: 401 });
    if (ping.ok) return;
    expect(ping.reason).toContain("requires authentication");
    expect(ping.hint).toContain("set SKIFF_REGISTRY_USERNAME and SKIFF_REGISTRY_PASSWORD");
    expect(server.seen).toHaveLength(1);
  });

  /** A token service and a registry that accepts the tokens it issued. */
  async function tokenRegistry(options: { anonymous?: boolean } = {}) {
    let issued = 0;
    const valid = new Set<string>();
    const auth = await serve((req, res) => {
      const authorized = options.anonymous || req.headers.authorization === basic("ops", PASSWORD);
      if (!authorized) {
        return reply(res, 401, { errors: [{ code: "UNAUTHORIZED", message: "bad login" }] });
      }
      issued++;
      const token = `token-${issued}`;
      valid.add(token);
      reply(res, 200, { token, expires_in: 300 });
    });
    const registry = await serve((req, res) => {
      const token = req.headers.authorization?.replace(/^Bearer /, "");
      if (token && valid.has(token)) {
        return reply(res, 200, req.url === "/v2/" ? {} : TAGS);
      }
      const scope = req.url === "/v2/" ? "" : ',scope="repository:shop/web:pull"';
      reply(res, 401, undefined, {
        "www-authenticate": `Bearer realm="${auth.url}/token",service="fake-registry"${scope}`,
      });
    });
    return { auth, registry };
  }

  it("gets a token from the realm, retries with it and reuses it until it expires", async () => {
    const { auth, registry } = await tokenRegistry();
    let now = Date.now();
    const client = new RegistryClient({
      url: registry.url,
      credentials: { username: "ops", password: new Secret(PASSWORD) },
      now: () => now,
    });
    const path = "/v2/shop/web/tags/list";
    expect(await client.tags("shop/web")).toEqual(["v1"]);
    expect(await client.tags("shop/web")).toEqual(["v1"]);
    now += 301_000; // past expires_in
    expect(await client.tags("shop/web")).toEqual(["v1"]);

    expect(registry.seen).toEqual([
      { method: "GET", url: path, authorization: undefined },
      { method: "GET", url: path, authorization: "Bearer token-1" },
      { method: "GET", url: path, authorization: "Bearer token-1" },
      { method: "GET", url: path, authorization: undefined },
      { method: "GET", url: path, authorization: "Bearer token-2" },
    ]);
    const tokenRequest = {
      method: "GET",
      url: "/token?service=fake-registry&scope=repository%3Ashop%2Fweb%3Apull",
      authorization: basic("ops", PASSWORD),
    };
    expect(auth.seen).toEqual([tokenRequest, tokenRequest]);
  });

  it("pings through the token exchange (no scope for /v2/)", async () => {
    const { auth, registry } = await tokenRegistry({ anonymous: true });
    expect(await new RegistryClient({ url: registry.url }).ping()).toEqual({
      ok: true,
      apiVersion: "registry/2.0",
    });
    expect(auth.seen).toEqual([
      { method: "GET", url: "/token?service=fake-registry", authorization: undefined },
    ]);
  });

  it("reports a token service that rejects the credentials, without the password", async () => {
    const { auth, registry } = await tokenRegistry();
    const wrong = "not-the-password";
    const client = new RegistryClient({
      url: registry.url,
      credentials: { username: "ops", password: new Secret(wrong) },
    });
    const error = (await client.tags("shop/web").catch((e: unknown) => e)) as RegistryError;
    expect(error).toBeInstanceOf(RegistryError);
    expect(error.status).toBe(401);
    expect(error.registry).toBe(registry.url);
    expect(error.message).toContain(`get a token from ${auth.url}/token`);
    expect(error.message).toContain('rejected the credentials of user "ops"');
    expect(`${error.message} ${error.hint} ${inspect(error)}`).not.toContain(wrong);
  });
});

describe("RegistryClient against things that are not registries", () => {
  const servers: FakeServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  it("says a web server without the API version header is not a registry", async () => {
    const server = await fakeServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html>hello</html>");
    });
    servers.push(server);
    const ping = await new RegistryClient({ url: server.url }).ping();
    expect(ping).toMatchObject({ ok: false, status: 200 });
    if (ping.ok) return;
    expect(ping.reason).toContain(`registry ${server.url}: not a registry`);
    expect(ping.reason).toContain("Docker-Distribution-API-Version");
  });

  it("times out on a server that never answers", async () => {
    const server = await fakeServer(() => {});
    servers.push(server);
    const ping = await new RegistryClient({ url: server.url, timeoutMs: 200 }).ping();
    expect(ping).toMatchObject({ ok: false });
    if (ping.ok) return;
    expect(ping.reason).toContain(`registry ${server.url}:`);
    expect(ping.reason).toContain("no answer within 200 ms");
  });

  it("follows an absolute next link by path only, on the same registry", async () => {
    const server = await fakeServer((req, res) => {
      if (req.url === "/v2/_catalog?n=1") {
        return reply(
          res,
          200,
          { repositories: ["a/one"] },
          {
            link: '<http://elsewhere.invalid/v2/_catalog?last=a%2Fone&n=1>; rel="next"',
          },
        );
      }
      reply(res, 200, { repositories: ["b/two"] });
    });
    servers.push(server);
    expect(await new RegistryClient({ url: server.url, pageSize: 1 }).catalog()).toEqual([
      "a/one",
      "b/two",
    ]);
    expect(server.seen.map((s) => s.url)).toEqual([
      "/v2/_catalog?n=1",
      "/v2/_catalog?last=a%2Fone&n=1",
    ]);
  });
});

describe("normaliseRegistryUrl", () => {
  it.each([
    ["http://127.0.0.1:5000", "http://127.0.0.1:5000"],
    ["http://127.0.0.1:5000/", "http://127.0.0.1:5000"],
    ["https://registry.example.com/prefix//", "https://registry.example.com/prefix"],
  ])("%j → %j", (raw, expected) => {
    expect(normaliseRegistryUrl(raw)).toBe(expected);
  });

  it.each([
    ["127.0.0.1:5000", /not a registry URL/],
    ["ftp://host", /must use http or https/],
    ["http://ops:hunter2@host:5000", /carries credentials/],
  ])("rejects %j", (raw, message) => {
    expect(() => normaliseRegistryUrl(raw)).toThrow(message);
    try {
      normaliseRegistryUrl(raw);
    } catch (error) {
      expect(String(error)).not.toContain("hunter2");
    }
  });
});
