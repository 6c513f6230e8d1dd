import { afterEach, describe, expect, it } from "vitest";
import { buildTestServer, type TestServer } from "../test-server.js";
import { parseLifetime } from "./tokens.js";

describe("tokens", () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  /** A request with `token` instead of the admin token. */
  const as = (
    token: string,
    method: "GET" | "POST" | "PATCH" | "DELETE",
    url: string,
    payload?: object,
  ) =>
    (server as TestServer).server.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}` },
      ...(payload ? { payload } : {}),
    });

  it("makes a token shown once, lists it without its value, and revokes it for good", async () => {
    server = buildTestServer();
    const made = await server.request("POST", "/api/v1/tokens", {
      name: "ci-shop",
      scope: "deploy",
      app: "shop",
      expires: "30d",
    });
    expect(made.statusCode).toBe(201);
    const { token, expiresAt } = made.json();
    expect(token).toMatch(/^skiff_/);
    expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    const listed = await server.request("GET", "/api/v1/tokens");
    expect(listed.body).not.toContain(token);
    expect(listed.json().tokens).toMatchObject([{ name: "ci-shop", scope: "deploy", app: "shop" }]);
    expect((await as(token, "GET", "/api/v1/apps/shop/runs")).statusCode).toBe(200);
    expect((await server.request("DELETE", "/api/v1/tokens/ci-shop")).statusCode).toBe(200);
    const after = await as(token, "GET", "/api/v1/apps/shop/runs");
    expect(after.statusCode).toBe(401);
    const events = (await server.request("GET", "/api/v1/events")).json();
    expect(JSON.stringify(events)).toContain("token ci-shop revoked by admin");
    expect(JSON.stringify(events)).toContain("created by admin");
    expect(JSON.stringify(events)).not.toContain(token);
  });

  it("a deploy token reads and deploys its app, and is refused on its config, another app and platform routes", async () => {
    server = buildTestServer();
    server.store.createApp("blog");
    const { token } = (
      await server.request("POST", "/api/v1/tokens", { name: "dev", scope: "deploy", app: "shop" })
    ).json();
    expect((await as(token, "GET", "/api/v1/apps/shop/releases")).statusCode).toBe(200);
    for (const [method, url] of [
      ["GET", "/api/v1/apps/shop/config"],
      ["PATCH", "/api/v1/apps/shop/config"],
      ["GET", "/api/v1/apps/blog/runs"],
      ["GET", "/api/v1/status"],
      ["GET", "/api/v1/tokens"],
      ["GET", "/api/v1/apps"],
      ["POST", "/api/v1/apps/shop/scale"],
      ["DELETE", "/api/v1/apps/shop"],
    ] as const) {
      const answer = await as(
        token,
        method,
        url,
        method === "GET" || method === "DELETE" ? undefined : {},
      );
      expect({ method, url, status: answer.statusCode }).toEqual({ method, url, status: 403 });
      expect(answer.json().error.code).toBe("forbidden");
    }
    const read = (
      await server.request("POST", "/api/v1/tokens", { name: "viewer", scope: "read", app: "shop" })
    ).json().token;
    expect((await as(read, "GET", "/api/v1/apps/shop/ps")).statusCode).not.toBe(403);
    const rollback = await as(read, "POST", "/api/v1/apps/shop/rollback", {});
    expect(rollback.statusCode).toBe(403);
    expect(rollback.json().error.message).toBe(
      'the token "viewer" has the read scope, and this needs deploy',
    );
  });

  it.each([
    [{ name: "x", scope: "deploy" }, "a deploy token is for one app"],
    [{ name: "Bad Name", scope: "admin" }, "a token's name is lowercase"],
    [{ name: "admin", scope: "admin" }, "names Skiff's own callers"],
    [{ name: "x", scope: "root" }, "the scope must be one of read, deploy, admin"],
    [{ name: "x", scope: "read", app: "nope" }, 'no app named "nope"'],
    [{ name: "x", scope: "admin", expires: "soon" }, "is not a token lifetime"],
  ])("refuses %j (%s)", async (body, message) => {
    server = buildTestServer();
    const answer = await server.request("POST", "/api/v1/tokens", body);
    expect(answer.statusCode).toBeGreaterThanOrEqual(400);
    expect(answer.json().error.message).toContain(message);
    expect((await server.request("GET", "/api/v1/tokens")).json().tokens).toEqual([]);
  });

  it("refuses a second token of the same name with 409", async () => {
    server = buildTestServer();
    await server.request("POST", "/api/v1/tokens", { name: "ci", scope: "admin" });
    expect(
      (await server.request("POST", "/api/v1/tokens", { name: "ci", scope: "admin" })).statusCode,
    ).toBe(409);
  });

  it.each([
    ["90d", 90 * 86_400_000],
    ["12h", 12 * 3_600_000],
    ["30m", 30 * 60_000],
    ["never", undefined],
  ])("a lifetime of %s is %s ms", (text, ms) => {
    expect(parseLifetime(text)).toBe(ms);
  });
});
