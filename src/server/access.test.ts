import { describe, expect, it } from "vitest";
import { accessProblem, requiredScope } from "./access.js";

describe("the API's access policy", () => {
  it.each([
    ["GET", "/api/v1/apps/:name/runs", "read"],
    ["GET", "/api/v1/apps/:name/runs/:number/events", "read"],
    ["HEAD", "/api/v1/apps/:name/ps", "read"],
    ["POST", "/api/v1/apps/:name/deploy", "deploy"],
    ["POST", "/api/v1/apps/:name/rollback", "deploy"],
    ["GET", "/api/v1/apps/:name/config", "admin"],
    ["PATCH", "/api/v1/apps/:name/config", "admin"],
    ["POST", "/api/v1/apps/:name/scale", "admin"],
    ["DELETE", "/api/v1/apps/:name", "admin"],
    ["GET", "/api/v1/status", "admin"],
    ["GET", "/api/v1/events", "admin"],
    ["POST", "/api/v1/tokens", "admin"],
    ["GET", "/api/v1/something-new", "admin"],
    ["GET", undefined, "admin"],
  ])("%s %s needs %s", (method, url, scope) => {
    expect(requiredScope(method, url)).toBe(scope);
  });

  const deploy = { name: "ci-shop", scope: "deploy" as const, app: "shop" };
  it("a token bound to an app is refused on another app and on platform routes", () => {
    expect(accessProblem(deploy, "deploy", "shop")).toBeUndefined();
    expect(accessProblem(deploy, "read", "blog")).toBe(
      'the token "ci-shop" is for the app shop, not blog',
    );
    expect(accessProblem(deploy, "admin", undefined)).toBe(
      'the token "ci-shop" is for the app shop and cannot use platform routes',
    );
  });

  it("a scope covers the ones below it only", () => {
    expect(accessProblem({ name: "r", scope: "read", app: "shop" }, "deploy", "shop")).toBe(
      'the token "r" has the read scope, and this needs deploy',
    );
    expect(accessProblem(deploy, "admin", "shop")).toContain("needs admin");
    expect(accessProblem({ name: "admin", scope: "admin" }, "admin", undefined)).toBeUndefined();
  });
});
