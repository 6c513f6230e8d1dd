import { afterEach, describe, expect, it } from "vitest";
import { registeredRoutes } from "./http.js";
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
