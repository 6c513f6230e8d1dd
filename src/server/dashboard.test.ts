import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { NotFoundError } from "../errors.js";
import {
  DASHBOARD_CSP,
  DASHBOARD_ROOT,
  dashboardFiles,
  registerDashboardRoutes,
} from "./dashboard.js";
import { buildTestServer, type TestServer } from "./test-server.js";

describe("the dashboard's files", () => {
  let current: TestServer | undefined;
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });

  it("serves the page at / without a token, with a strict Content-Security-Policy", async () => {
    current = buildTestServer();
    const page = await current.server.inject({ method: "GET", url: "/" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.headers["content-security-policy"]).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
    expect(DASHBOARD_CSP).not.toContain("unsafe-inline");
    expect(page.headers["x-content-type-options"]).toBe("nosniff");
    expect(page.body).toContain('<script type="module" src="/dashboard/app.js"></script>');
  });

  it.each([
    ["/dashboard/app.js", "text/javascript; charset=utf-8"],
    ["/dashboard/api.js", "text/javascript; charset=utf-8"],
    ["/dashboard/style.css", "text/css; charset=utf-8"],
    ["/dashboard/favicon.svg", "image/svg+xml"],
  ])("serves %s as %s", async (url, type) => {
    current = buildTestServer();
    const response = await current.server.inject({ method: "GET", url });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toBe(type);
  });

  it.each([
    "/dashboard/../package.json",
    "/dashboard/..%2Fpackage.json",
    "/dashboard/%2e%2e%2fpackage.json",
    "/dashboard/..%5cpackage.json",
    "/dashboard/",
    "/dashboard/nosuch.js",
    "/dashboard/.",
    "/dashboard/%00app.js",
    "/dashboard/app.js%00.css",
    "/dashboard//etc/passwd",
    "/index.html/../package.json",
  ])("refuses %s with 404", async (url) => {
    current = buildTestServer();
    const response = await current.server.inject({ method: "GET", url });
    expect(response.statusCode).toBe(404);
    expect(response.body).not.toContain('"name": "skiff"');
  });

  it("serves only regular files of a known type directly in the folder", () => {
    const root = mkdtempSync(join(tmpdir(), "skiff-dashboard-"));
    try {
      writeFileSync(join(root, "index.html"), "<!doctype html>");
      writeFileSync(join(root, "app.js"), "");
      writeFileSync(join(root, "notes.txt"), "private");
      writeFileSync(join(root, "app.ts"), "");
      mkdirSync(join(root, "sub.js"));
      expect([...dashboardFiles(root).keys()].sort()).toEqual(["app.js", "index.html"]);
      expect(dashboardFiles(join(root, "absent")).size).toBe(0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("answers 404 with a hint when its folder is missing, instead of failing the server", async () => {
    const app = Fastify();
    // The real server's error handler turns a NotFoundError into this answer.
    app.setErrorHandler((error, _request, reply) => {
      reply
        .code(error instanceof NotFoundError ? 404 : 500)
        .send({ hint: (error as NotFoundError).hint });
    });
    const missing = join(tmpdir(), "skiff-no-such-dashboard");
    registerDashboardRoutes(app, { root: missing });
    const response = await app.inject({ method: "GET", url: "/" });
    expect(response.statusCode).toBe(404);
    expect(response.json().hint).toContain(missing);
    await app.close();
  });

  it("puts data into the page as text only: no inline script, no HTML from strings", () => {
    const html = readFileSync(join(DASHBOARD_ROOT, "index.html"), "utf8");
    for (const tag of html.match(/<script\b[^>]*>/g) ?? []) expect(tag).toMatch(/\ssrc="/);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(html).not.toMatch(/\sstyle=/i);
    for (const file of readdirSync(DASHBOARD_ROOT).filter((f) => f.endsWith(".js"))) {
      const source = readFileSync(join(DASHBOARD_ROOT, file), "utf8");
      expect({
        file,
        html: /innerHTML|outerHTML|insertAdjacentHTML|document\.write/.test(source),
      }).toEqual({ file, html: false });
    }
  });
});
