import type Docker from "dockerode";
import { afterEach, describe, expect, it } from "vitest";
import type { AppService } from "../apps/app-service.js";
import { Pipeline, type StageRunners } from "../pipeline/pipeline.js";
import type { RegistryClient } from "../registry/client.js";
import { openDatabase } from "../state/database.js";
import { RunStore } from "../state/runs.js";
import { Store } from "../state/store.js";
import { hashToken } from "./admin-token.js";
import { buildHttpServer, registeredRoutes } from "./http.js";

const TOKEN = "skiff_test-token";

/** Dependencies that fail the test if reached: an unauthenticated request must never get that far. */
function unreachable(): never {
  throw new Error("a handler ran for an unauthenticated request");
}

function build() {
  const db = openDatabase(":memory:");
  const store = new Store(db);
  store.addAdminTokenHash(hashToken(TOKEN));
  store.createApp("example");
  const apps = new Proxy({} as AppService, { get: () => unreachable });
  const runs = new RunStore(db);
  const pipeline = new Pipeline({
    runs,
    runners: new Proxy({} as StageRunners, { get: () => unreachable }),
    runsRoot: "/nonexistent/runs",
    workRoot: "/nonexistent/work",
  });
  const server = buildHttpServer({
    store,
    apps,
    status: unreachable,
    runs,
    pipeline,
    runsRoot: "/nonexistent/runs",
    workRoot: "/nonexistent/work",
    bases: {
      docker: new Proxy({} as Docker, { get: () => unreachable }),
      registry: new Proxy({} as RegistryClient, { get: () => unreachable }),
      registryAddress: "127.0.0.1:5000",
      workDir: "/nonexistent/work",
    },
    git: {
      reposRoot: "/nonexistent/repos",
      hookToken: "hook-token",
      hookEnv: unreachable,
      onPush: unreachable,
    },
  });
  return { server, store };
}

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
  let current: ReturnType<typeof build> | undefined;
  afterEach(async () => {
    await current?.server.close();
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
    const routes = registeredRoutes(server).filter((r) => !r.url.startsWith("/api/"));
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
