import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTestImage, testDocker } from "./support/busybox-image.js";
import { getThroughEdge, twoServiceApp } from "./support/deploy-app.js";
import { git, gitOk, isolatedGitEnv } from "./support/git-cli.js";
import { removeAppImages, writeFiles } from "./support/pipeline-app.js";
import {
  createSandbox,
  destroySandbox,
  readToken,
  type SkiffSandbox,
  skiff,
  startForegroundServer,
} from "./support/skiff-harness.js";

/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core)
 * against a real server: sign in, the apps list, an app's processes and
 * releases, a rollback from the page, and a run's log. The app is the
 * two-service busybox app of the deploy tests, pushed twice with git.
 */

const CHROMIUM = "/usr/bin/chromium";
/** How long a page may take to show what a deploy or rollback produced. */
const DEPLOY_WAIT = 60_000;
/** How long a page may take to show what the API says (it refreshes every 4 s). */
const PAGE_WAIT = 15_000;

/** A GET with the path sent exactly as written (fetch() would resolve `..` first). */
function rawGet(
  port: number,
  path: string,
): Promise<{ status: number; type: string | undefined; csp: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          type: res.headers["content-type"],
          csp: res.headers["content-security-policy"] as string | undefined,
          body,
        }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

describe("the dashboard in Chromium", () => {
  const app = `db${randomBytes(3).toString("hex")}`;
  const docker = testDocker();
  let sandbox: SkiffSandbox;
  let server: ChildProcess;
  let token: string;
  let root: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Uncaught errors and CSP violations in the page: there must be none. */
  const pageProblems: string[] = [];

  async function commit(dir: string, env: NodeJS.ProcessEnv, version: string) {
    writeFiles(dir, twoServiceApp(app, { version }));
    for (const script of ["api", "health"]) chmodSync(join(dir, "web/www/cgi-bin", script), 0o755);
    await gitOk(["add", "--all"], { cwd: dir, env });
    await gitOk(["commit", "--quiet", "-m", version], { cwd: dir, env });
  }

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "skiff-dashboard-"));
    // The browser starts while the server builds and deploys.
    const launching = chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // Tests run as root, where Chromium's sandbox cannot start.
      args: ["--no-sandbox"],
    });
    await ensureTestImage(docker);
    sandbox = await createSandbox();
    server = await startForegroundServer(sandbox);
    token = readToken(sandbox);
    const created = await skiff(sandbox, ["apps:create", app]);
    expect(created.code, created.stderr).toBe(0);

    const env = isolatedGitEnv(join(root, "home"));
    const dir = join(root, app);
    mkdirSync(dir, { recursive: true });
    await gitOk(["init", "--quiet", "--initial-branch=main"], { cwd: dir, env });
    const remote = `http://x:${token}@127.0.0.1:${sandbox.apiPort}/git/${app}.git`;
    for (const version of ["v1", "v2"]) {
      await commit(dir, env, version);
      const pushed = await git(["push", remote, "main"], { cwd: dir, env });
      expect(pushed.code, pushed.stderr).toBe(0);
    }

    browser = await launching;
    context = await browser.newContext();
    page = await context.newPage();
    page.on("pageerror", (error) => pageProblems.push(`uncaught: ${error.message}`));
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) pageProblems.push(message.text());
    });
  });

  afterAll(async () => {
    await browser?.close();
    if (sandbox) await destroySandbox(sandbox, server);
    if (sandbox) await removeAppImages(docker, `127.0.0.1:${sandbox.registryPort}`, app);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  /** The API's answer with the admin token, to check what the page did. */
  async function api<T>(path: string): Promise<T> {
    const response = await fetch(`${sandbox.apiUrl}/api/v1${path}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status, path).toBe(200);
    return (await response.json()) as T;
  }

  it("serves the page and its assets with their types, and nothing outside dashboard/", async () => {
    const index = await rawGet(sandbox.apiPort, "/");
    expect(index.status).toBe(200);
    expect(index.type).toBe("text/html; charset=utf-8");
    expect(index.csp).toContain("script-src 'self'");
    expect(index.csp).not.toContain("unsafe-inline");
    const script = await rawGet(sandbox.apiPort, "/dashboard/app.js");
    expect(script.status).toBe(200);
    expect(script.type).toBe("text/javascript; charset=utf-8");
    const style = await rawGet(sandbox.apiPort, "/dashboard/style.css");
    expect([style.status, style.type]).toEqual([200, "text/css; charset=utf-8"]);

    for (const path of [
      "/dashboard/../package.json",
      "/dashboard/..%2Fpackage.json",
      "/dashboard/%2e%2e%2fpackage.json",
      "/dashboard/../src/server/dashboard.ts",
      "/dashboard/nosuch.js",
    ]) {
      const refused = await rawGet(sandbox.apiPort, path);
      expect({ path, status: refused.status }).toEqual({ path, status: 404 });
      expect(refused.body).not.toContain('"dependencies"');
    }
    // The page needs no token, but its data does.
    expect((await rawGet(sandbox.apiPort, "/api/v1/apps")).status).toBe(401);
  });

  it("asks for the token, refuses a wrong one with a message, then lists the app with its URL", async () => {
    await page.goto(`${sandbox.apiUrl}/`);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    expect(await page.getByText("~/.skiff/admin-token").first().isVisible()).toBe(true);

    await page.getByLabel("Admin token").fill("skiff_not-the-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    const refusal = page.getByRole("alert");
    await refusal.waitFor();
    expect(await refusal.textContent()).toContain("That token was not accepted");
    expect(await page.evaluate(() => localStorage.length)).toBe(0);

    await page.getByLabel("Admin token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
    const row = page.locator(`tr[data-app="${app}"]`);
    await row.waitFor();
    const url = `http://${app}.localhost:${sandbox.edgePort}/`;
    expect(await row.getByRole("link", { name: url }).getAttribute("href")).toBe(url);
    await expect.poll(() => row.textContent(), { timeout: PAGE_WAIT }).toContain("r2");

    // The token stays across a reload, and signing out forgets it.
    await page.reload();
    await row.waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    await page.getByLabel("Admin token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await row.waitFor();
  });

  it("shows the app's processes and releases", async () => {
    await page
      .locator(`tr[data-app="${app}"]`)
      .getByRole("link", { name: app, exact: true })
      .click();
    await page.getByRole("heading", { name: app, level: 1 }).waitFor();

    const web = page.locator('#processes tr[data-service="web"]');
    const api = page.locator('#processes tr[data-service="api"]');
    await expect.poll(() => web.count(), { timeout: PAGE_WAIT }).toBe(2);
    expect(await api.count()).toBe(1);
    for (const text of await web.allTextContents()) {
      expect(text).toContain("r2");
      expect(text).toContain("running");
      expect(text).toMatch(/127\.0\.0\.1:\d+/);
    }
    // api has a Compose healthcheck, so Docker reports its health; web's comes from the edge's check.
    const healthyCells = (rows: typeof web) => rows.locator("td", { hasText: /^\s*healthy\s*$/ });
    await expect.poll(() => healthyCells(api).count(), { timeout: PAGE_WAIT }).toBe(1);
    await expect.poll(() => healthyCells(web).count(), { timeout: PAGE_WAIT }).toBe(2);

    const r2 = page.locator('#releases tr[data-release="2"]');
    const r1 = page.locator('#releases tr[data-release="1"]');
    await expect.poll(() => r2.textContent(), { timeout: PAGE_WAIT }).toContain("live");
    expect(await r1.textContent()).toContain("superseded");
    // Only an earlier release that served can be rolled back to.
    expect(await r2.getByRole("button").count()).toBe(0);
    expect(await r1.getByRole("button", { name: "Roll back to this release" }).count()).toBe(1);
    expect(await page.locator("#live-release").textContent()).toBe("r2");

    const runs = page.locator("#runs tr[data-run]");
    expect(await runs.count()).toBe(2);
    expect(await runs.first().textContent()).toContain("succeeded");
  });

  it("rolls back from the page: a new release that points at the old one goes live", async () => {
    let question = "";
    page.once("dialog", async (dialog) => {
      question = dialog.message();
      await dialog.accept();
    });
    await page
      .locator('#releases tr[data-release="1"]')
      .getByRole("button", { name: "Roll back to this release" })
      .click();
    const outcome = page.locator("#rollback").getByRole("status");
    await outcome.waitFor({ timeout: DEPLOY_WAIT });
    expect(question).toContain(`Roll back ${app} to r1`);
    expect(await outcome.textContent()).toContain("Rolled back: r3 is live");
    // The run's progress streamed into the panel as it happened.
    expect(await page.locator("#rollback pre").textContent()).toContain("-----> deploy");

    const r3 = page.locator('#releases tr[data-release="3"]');
    await expect.poll(() => r3.textContent(), { timeout: PAGE_WAIT }).toContain("rollback of r1");
    expect(await r3.textContent()).toContain("live");
    await expect
      .poll(() => page.locator("#live-release").textContent(), { timeout: PAGE_WAIT })
      .toBe("r3");

    const answer = await api<{ live: number; releases: { number: number; rollbackOf?: number }[] }>(
      `/apps/${app}/releases`,
    );
    expect(answer.live).toBe(3);
    expect(answer.releases[0]).toMatchObject({ number: 3, rollbackOf: 1 });
    const served = await getThroughEdge(sandbox.edgePort, `${app}.localhost`);
    expect("body" in served ? served.body.trim() : served.error).toBe(`web v1 ${app}`);
  });

  it("shows a run's stages and log, and follows a running one live", async () => {
    await page.locator('#runs tr[data-run="1"]').getByRole("link", { name: "Run 1" }).click();
    const log = page.locator("#run-log");
    await expect
      .poll(() => log.textContent(), { timeout: PAGE_WAIT })
      .toContain("=====> run succeeded");
    const text = (await log.textContent()) ?? "";
    for (const stage of ["source", "build", "publish", "deploy"]) {
      expect(text).toContain(`-----> ${stage}`);
    }
    expect(text).toContain("[web]");
    await expect
      .poll(() => page.locator('#stages tr[data-stage="deploy"]').textContent(), {
        timeout: PAGE_WAIT,
      })
      .toMatch(/succeeded\d+\.\d s/);

    // A run that starts now: the page follows it to its end.
    const started = await fetch(`${sandbox.apiUrl}/api/v1/apps/${app}/rollback`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ release: 2 }),
    });
    expect(started.status).toBe(202);
    const { run } = (await started.json()) as { run: number };
    await page.goto(`${sandbox.apiUrl}/#/apps/${app}/runs/${run}`);
    await expect
      .poll(() => page.locator(".following").textContent(), { timeout: DEPLOY_WAIT })
      .toContain("The run ended: succeeded");
    expect(await page.locator("#run-log").textContent()).toContain("-----> deploy succeeded");
    await expect
      .poll(() => page.locator("#run-status").textContent(), { timeout: PAGE_WAIT })
      .toBe("succeeded");
    expect(pageProblems).toEqual([]);
  });
});
