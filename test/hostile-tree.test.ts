import type { ChildProcess } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTestImage, TEST_IMAGE, testDocker } from "./support/busybox-image.js";
import { type GitResult, gitOk, isolatedGitEnv } from "./support/git-cli.js";
import {
  gitOutput,
  initRepo,
  listRuns,
  pushToSandbox,
  smallApp,
  waitForRun,
} from "./support/pipeline-app.js";
import {
  createSandbox,
  destroySandbox,
  readToken,
  type SkiffSandbox,
  skiff,
  startForegroundServer,
} from "./support/skiff-harness.js";

/**
 * A pushed commit is input (DESIGN.md, Trust): links in it that lead out of
 * the tree must never make Skiff read a host file. Each case pushes (or
 * uploads) a tree whose links point at the server's admin token, its live
 * SQLite database or its own environment, and asserts what an operator
 * relies on: the run fails with a located error, and neither the token nor
 * the environment shows up in the push output, the run log, any file under
 * $SKIFF_HOME or any image. A commit is exported into
 * $SKIFF_HOME/work/APP-N/src, so `../../..` from the tree's root is
 * $SKIFF_HOME itself.
 */

const prefix = `ht${randomBytes(3).toString("hex")}`;
/** Put into the server's environment: it must never appear in a log. */
const ENV_MARKER = `skiffenvmarker${randomBytes(6).toString("hex")}`;

describe("a pushed tree never reaches outside itself", () => {
  let sandbox: SkiffSandbox;
  let server: ChildProcess;
  let token: string;
  let root: string;
  let env: NodeJS.ProcessEnv;
  const docker = testDocker();

  beforeAll(async () => {
    await ensureTestImage(docker);
    sandbox = await createSandbox();
    sandbox.env.SKIFF_TEST_MARKER = ENV_MARKER;
    server = await startForegroundServer(sandbox);
    token = readToken(sandbox);
    root = mkdtempSync(join(tmpdir(), "skiff-hostile-"));
    env = isolatedGitEnv(join(root, "home"));
  });

  afterAll(async () => {
    // destroySandbox removes the containers, then every image under the sandbox's registry address.
    if (sandbox) await destroySandbox(sandbox, server);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  /** A new app whose work tree holds `files` and the `links` (path → target), committed on main. */
  async function appWithLinks(
    name: string,
    files: Record<string, string>,
    links: Record<string, string>,
  ): Promise<{ app: string; dir: string }> {
    const app = `${prefix}-${name}`;
    const created = await skiff(sandbox, ["apps:create", app]);
    expect(created.code, created.stderr).toBe(0);
    const dir = join(root, app);
    mkdirSync(dir, { recursive: true });
    for (const [path, target] of Object.entries(links)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      symlinkSync(target.replaceAll("$SKIFF_HOME", sandbox.home), join(dir, path));
    }
    await initRepo(dir, files, env);
    return { app, dir };
  }

  function push(app: string, dir: string): Promise<GitResult> {
    return pushToSandbox(sandbox, app, dir, env);
  }

  /** Every file under $SKIFF_HOME but the token file itself and the registry's blobs, as text. */
  function homeFiles(dir = sandbox.home): { path: string; text: string }[] {
    const out: { path: string; text: string }[] = [];
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (path === join(sandbox.home, "admin-token") || path === join(sandbox.home, "registry")) {
        continue;
      }
      const stat = statSync(path, { throwIfNoEntry: false });
      if (stat?.isDirectory()) out.push(...homeFiles(path));
      else if (stat?.isFile()) out.push({ path, text: readFileSync(path, "latin1") });
    }
    return out;
  }

  /** Nothing from outside the tree anywhere a user or a log can see it. */
  async function expectNothingLeaked(app: string, output: string): Promise<void> {
    expect(output).not.toContain(token);
    expect(output).not.toContain(ENV_MARKER);
    const logs = await skiff(sandbox, ["runs:logs", app, "1"]);
    expect(logs.stdout + logs.stderr).not.toContain(token);
    expect(logs.stdout + logs.stderr).not.toContain(ENV_MARKER);
    for (const { path, text } of homeFiles()) {
      expect(text.includes(token), `${path} holds the admin token`).toBe(false);
      expect(text.includes(ENV_MARKER), `${path} holds the server's environment`).toBe(false);
    }
    const images = await docker.listImages({
      filters: JSON.stringify({ reference: [`127.0.0.1:${sandbox.registryPort}/${app}/*`] }),
    });
    expect(images).toEqual([]);
  }

  async function expectRefused(app: string, dir: string, located: RegExp): Promise<void> {
    const result = await push(app, dir);
    const output = gitOutput(result);
    expect(result.code, output).not.toBe(0);
    expect(output).toMatch(located);
    const [run] = await listRuns(sandbox, app);
    expect(run?.status).toBe("failed");
    await expectNothingLeaked(app, output);
    // The server still works on its database: the refused reads never opened it.
    const apps = await skiff(sandbox, ["apps", "--json"]);
    expect(apps.code, apps.stderr).toBe(0);
  }

  it("refuses a compose.yaml that is a link to the admin token", async () => {
    const { app, dir } = await appWithLinks("spec", {}, { "compose.yaml": "../../../admin-token" });
    await expectRefused(app, dir, /compose\.yaml leads outside the repository/);
  });

  it("refuses a compose.yaml that is an absolute link into $SKIFF_HOME", async () => {
    const { app, dir } = await appWithLinks(
      "specabs",
      {},
      { "compose.yaml": "$SKIFF_HOME/admin-token" },
    );
    await expectRefused(app, dir, /compose\.yaml leads outside the repository/);
  });

  it("refuses a build context linked to $SKIFF_HOME through a directory", async () => {
    const { app, dir } = await appWithLinks(
      "context",
      {
        "compose.yaml": `services:\n  web:\n    build: { context: home, dockerfile: work/${prefix}-context-1/src/Dockerfile }\n    x-skiff: { port: 8080 }\n`,
        Dockerfile: `FROM ${TEST_IMAGE}\nCOPY admin-token /token\n`,
      },
      { home: "../../.." },
    );
    await expectRefused(
      app,
      dir,
      /services\.web\.build\.context: "home" leads outside the repository/,
    );
  });

  it("refuses a Dockerfile linked out of the tree", async () => {
    const files = smallApp(`${prefix}df`, { test: "" });
    delete files.Dockerfile;
    const { app, dir } = await appWithLinks("dockerfile", files, {
      Dockerfile: "../../../admin-token",
    });
    await expectRefused(app, dir, /services\.web\.build\.dockerfile: "Dockerfile" .*leads outside/);
  });

  it("refuses an env_file that is a link to the server's environment", async () => {
    const { app, dir } = await appWithLinks(
      "envfile",
      {
        "compose.yaml": `services:\n  web:\n    image: ${TEST_IMAGE}\n    env_file: web.env\n`,
      },
      { "web.env": "/proc/self/environ" },
    );
    await expectRefused(app, dir, /services\.web\.env_file/);
  });

  it("refuses a .env that is a link to the live database", async () => {
    const { app, dir } = await appWithLinks(
      "dotenv",
      { "compose.yaml": `services:\n  web:\n    image: ${TEST_IMAGE}:\${TAG}\n` },
      { ".env": "../../../skiff.db" },
    );
    await expectRefused(app, dir, /\.env leads outside the repository/);
  });

  it("builds nothing from a link inside the context that points out of it", async () => {
    const files = smallApp(`${prefix}in`, { test: "", extraSteps: ["COPY token /token"] });
    const { app, dir } = await appWithLinks("inner", files, { token: "$SKIFF_HOME/admin-token" });
    const result = await push(app, dir);
    const output = gitOutput(result);
    // BuildKit resolves a link of the context inside the context, where the
    // target does not exist: the COPY fails, and no image holds the token.
    expect(result.code, output).not.toBe(0);
    await expectNothingLeaked(app, output);
  });

  it("refuses the same links in a tree uploaded with skiff deploy", async () => {
    const app = `${prefix}-upload`;
    expect((await skiff(sandbox, ["apps:create", app])).code).toBe(0);
    const dir = join(root, app);
    mkdirSync(dir);
    symlinkSync(join(sandbox.home, "admin-token"), join(dir, "compose.yaml"));
    const result = await skiff(sandbox, ["deploy", dir, "--app", app]);
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).toMatch(/compose\.yaml leads outside the repository/);
    await expectNothingLeaked(app, result.stdout + result.stderr);
  });

  it("refuses the same links in a commit a webhook deploys", async () => {
    const app = `${prefix}-hook`;
    expect((await skiff(sandbox, ["apps:create", app])).code).toBe(0);
    // The app's repository as a forge holds it: a local bare repository.
    const bare = join(root, `${app}.git`);
    await gitOk(["init", "--quiet", "--bare", "--initial-branch=main", bare], { cwd: root, env });
    const dir = join(root, app);
    mkdirSync(dir);
    symlinkSync("../../..", join(dir, "home"));
    await initRepo(
      dir,
      {
        "compose.yaml": `services:\n  web:\n    build: { context: home, dockerfile: Dockerfile }\n    x-skiff: { port: 8080 }\n`,
      },
      env,
    );
    const tip = await gitOk(["rev-parse", "HEAD"], { cwd: dir, env });
    await gitOk(["push", "--quiet", bare, "main"], { cwd: dir, env });
    expect(
      (await skiff(sandbox, ["apps:set", app, `repo=file://${bare}`, "branch=main"])).code,
    ).toBe(0);
    const webhook = JSON.parse(
      (await skiff(sandbox, ["apps:webhook", app, "--reveal", "--json"])).stdout,
    ) as {
      secret: string;
      urls: { github: string };
    };
    const body = JSON.stringify({ ref: "refs/heads/main", after: tip, repository: { name: app } });
    const response = await fetch(webhook.urls.github, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": randomBytes(8).toString("hex"),
        "x-hub-signature-256": `sha256=${createHmac("sha256", webhook.secret).update(body).digest("hex")}`,
      },
      body,
    });
    expect(response.status).toBe(202);
    const run = await waitForRun(sandbox, app, 1);
    expect(run.status).toBe("failed");
    const logs = await skiff(sandbox, ["runs:logs", app, "1"]);
    expect(logs.stdout + logs.stderr).toMatch(
      /services\.web\.build\.context: "home" leads outside the repository/,
    );
    await expectNothingLeaked(app, "");
  });

  it("still deploys a tree whose links stay inside it", async () => {
    const files = smallApp(`${prefix}ok`, { test: "" });
    const { app, dir } = await appWithLinks(
      "inside",
      { ...files, "config/compose.yaml": files["compose.yaml"] as string, "compose.yaml": "" },
      {},
    );
    // Replace the placeholder with a link to the real spec, inside the tree.
    rmSync(join(dir, "compose.yaml"));
    symlinkSync("config/compose.yaml", join(dir, "compose.yaml"));
    await gitOk(["add", "--all"], { cwd: dir, env });
    await gitOk(["commit", "--quiet", "-m", "spec through a link"], { cwd: dir, env });
    const result = await push(app, dir);
    expect(result.code, result.stderr).toBe(0);
  });
});
