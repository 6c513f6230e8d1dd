import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ReleasesAnswer } from "../src/server/api/releases.js";
import type { TokenRecord } from "../src/state/tokens.js";
import { pruneBuildCacheByToken } from "./support/build-cache.js";
import { ensureTestImage, TEST_IMAGE, testDocker } from "./support/busybox-image.js";
import { getThroughEdge } from "./support/deploy-app.js";
import { gitOk, isolatedGitEnv } from "./support/git-cli.js";
import {
  commitFiles,
  gitOutput,
  listRuns,
  pushToSandbox,
  removeAppImages,
  waitForRun,
  writeFiles,
} from "./support/pipeline-app.js";
import {
  createSandbox,
  destroySandbox,
  filesUnder,
  readToken,
  type SkiffSandbox,
  skiff,
  skiffOk,
  startBackgroundServer,
} from "./support/skiff-harness.js";

/**
 * Named tokens (`skiff tokens:create`), end to end against a real server
 * started the way users start it (`skiff server start`), the real Docker
 * Engine, registry and HAProxy edge. Two apps: `shop` is pushed and
 * deployed, `blog` only exists, to be refused. The cases run in order, each
 * from the state the one before left:
 *
 * - alice holds a deploy token of shop, set up in her work tree through
 *   git's credential helper exactly as the README's "Your first push" shows;
 * - viewer holds a read token of shop;
 * - the admin (the CLI's default, $SKIFF_HOME/admin-token) makes, lists and
 *   revokes them, and changes shop's config.
 *
 * Git is run as a user runs it, with the work tree's own config: the
 * harness's `git` helper turns credential helpers off (`-c
 * credential.helper=` empties the list, git-config(1) "credential.helper"),
 * which is the very thing under test here.
 */

const suffix = randomBytes(3).toString("hex");
const shop = `tk${suffix}`;
const blog = `tk${suffix}-blog`;
const host = `${shop}.localhost`;

/** shop at `version`: one built service behind the edge, quick to build, check and stop. */
function files(version: string): Record<string, string> {
  return {
    "compose.yaml": [
      "services:",
      "  web:",
      "    build: .",
      "    stop_grace_period: 1s",
      "    x-skiff: { port: 8080, health: { path: /, interval: 250ms, timeout: 15s } }",
      "",
    ].join("\n"),
    Dockerfile: [
      `FROM ${TEST_IMAGE}`,
      "COPY www /www",
      'CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]',
      "",
    ].join("\n"),
    "www/index.html": `${shop} ${version}\n`,
  };
}

/** What a git command printed and how it exited. */
interface UserGitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A table the CLI printed (output.ts `table`): each row as {HEADER: cell}, cut at the header's column starts. */
function tableRows(text: string): Record<string, string>[] {
  const [header = "", ...lines] = text.trimEnd().split("\n");
  // Cells are two spaces apart; a header may hold one ("LAST USED").
  const columns = [...header.matchAll(/\S+(?: \S+)*/g)].map((m) => ({
    name: m[0],
    at: m.index ?? 0,
  }));
  return lines.map((line) =>
    Object.fromEntries(
      columns.map((c, i) => [c.name, line.slice(c.at, columns[i + 1]?.at ?? line.length).trim()]),
    ),
  );
}

/** sha256 hex: the form of a token Skiff stores (state/tokens.ts hashToken). */
function hashHex(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

describe("named tokens: scoped to one app, attributed, revocable", () => {
  let sandbox: SkiffSandbox;
  let root: string;
  let env: NodeJS.ProcessEnv;
  /** alice's work tree of shop, with the README's remote and credential helper. */
  let aliceTree: string;
  let aliceToken: string;
  let viewerToken: string;
  let briefToken: string;
  let foreverToken: string;
  /** The commit of each push, by version. */
  const commits = new Map<string, string>();
  const docker = testDocker();

  beforeAll(async () => {
    await ensureTestImage(docker);
    sandbox = await createSandbox();
    await startBackgroundServer(sandbox);
    root = mkdtempSync(join(tmpdir(), "skiff-tokens-"));
    env = isolatedGitEnv(join(root, "home"));
    await skiffOk(sandbox, ["apps:create", shop]);
    await skiffOk(sandbox, ["apps:create", blog]);
    aliceTree = join(root, "alice", shop);
    mkdirSync(aliceTree, { recursive: true });
    await gitOk(["init", "--quiet", "--initial-branch=main"], { cwd: aliceTree, env });
    // r1 by the admin (the admin token in the URL, as the other tests push).
    commits.set("v1", await commitFiles(aliceTree, files("v1"), "v1", env));
    const first = await pushToSandbox(sandbox, shop, aliceTree, env);
    expect(first.code, gitOutput(first)).toBe(0);
  });

  afterAll(async () => {
    if (sandbox) {
      // `server stop --all` (the server by its pid file, then the registry and the edge).
      await destroySandbox(sandbox);
      await removeAppImages(docker, `127.0.0.1:${sandbox.registryPort}`, shop);
      await pruneBuildCacheByToken(docker, shop);
    }
    if (root) rmSync(root, { recursive: true, force: true });
  });

  /** `git ARGS` in `cwd` as a user runs it: the repository's config, credential helper included, applies. */
  function userGit(args: string[], cwd: string): Promise<UserGitResult> {
    return new Promise((resolve) => {
      execFile("git", args, { cwd, env, timeout: 90_000 }, (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** The README's credential helper line: git asks it for the password, read from `file`. */
  function credentialHelper(file: string): string {
    return `!f() { test "$1" = get || exit 0; echo username=skiff; echo "password=$(cat ${file})"; }; f`;
  }

  /** `skiff tokens:create NAME ARGS` by the admin, its stdout kept in a file only we can read; the value. */
  async function createToken(name: string, args: string[], file: string): Promise<string> {
    const made = await skiffOk(sandbox, ["tokens:create", name, ...args]);
    // The value alone on stdout, so `> file` keeps exactly the token; the note goes to stderr.
    expect(made.stdout).toMatch(/^skiff_[A-Za-z0-9_-]{43}\n$/);
    expect(made.stderr).toContain("It is shown only now");
    expect(made.stderr).not.toContain(made.stdout.trim());
    writeFileSync(file, made.stdout, { mode: 0o600 });
    return made.stdout.trim();
  }

  /** An API request with `token`: the status and the parsed JSON body (or the text). */
  async function api(
    token: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{
    status: number;
    body: { error?: { code?: string; message?: string } } & Record<string, unknown>;
  }> {
    const response = await fetch(`${sandbox.apiUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    // A run's events are Server-Sent Events: the status is what this test needs.
    if (response.headers.get("content-type")?.startsWith("text/event-stream")) {
      await response.body?.cancel();
      return { status: response.status, body: {} };
    }
    const text = await response.text();
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { text };
    }
    return { status: response.status, body: parsed };
  }

  async function releases(): Promise<ReleasesAnswer> {
    return JSON.parse(
      (await skiffOk(sandbox, ["releases", shop, "--json"])).stdout,
    ) as ReleasesAnswer;
  }

  async function eventMessages(): Promise<string[]> {
    const events = JSON.parse(
      (await skiffOk(sandbox, ["events", "--limit", "200", "--json"])).stdout,
    ) as {
      message: string;
    }[];
    return events.map((e) => e.message);
  }

  it("pushes with a deploy token through the credential helper, and the run, release and events name its holder", async () => {
    const tokenFile = join(root, "alice", ".shop-token");
    aliceToken = await createToken("alice", ["--app", shop, "--scope", "deploy"], tokenFile);
    // The README's setup of the work tree: a plain remote URL, the token from the helper.
    await gitOk(["remote", "add", "skiff", `http://127.0.0.1:${sandbox.apiPort}/git/${shop}.git`], {
      cwd: aliceTree,
      env,
    });
    const config = await userGit(
      ["config", "credential.helper", credentialHelper(tokenFile)],
      aliceTree,
    );
    expect(config.code, config.stderr).toBe(0);

    commits.set("v2", await commitFiles(aliceTree, files("v2"), "v2", env));
    const pushed = await userGit(["push", "skiff", "main"], aliceTree);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stderr).toContain(
      `skiff: run 2 of ${shop} for ${commits.get("v2")?.slice(0, 12)}`,
    );
    expect(await getThroughEdge(sandbox.edgePort, host, "/")).toEqual({
      status: 200,
      body: `${shop} v2\n`,
    });

    // Neither the work tree's config nor its remote URL holds the token.
    const gitConfig = readFileSync(join(aliceTree, ".git", "config"), "utf8");
    expect(gitConfig).not.toContain(aliceToken);
    expect(gitConfig).toContain(`url = http://127.0.0.1:${sandbox.apiPort}/git/${shop}.git\n`);

    // skiff runs: BY is the token's name; the admin's push is "admin".
    const runs = tableRows((await skiffOk(sandbox, ["runs", shop])).stdout);
    expect(runs.map((r) => [r.RUN, r.STATUS, r.TRIGGER, r.BY, r.COMMIT])).toEqual([
      ["2", "succeeded", "git-push", "alice", commits.get("v2")?.slice(0, 12)],
      ["1", "succeeded", "git-push", "admin", commits.get("v1")?.slice(0, 12)],
    ]);
    const runsJson = await listRuns(sandbox, shop);
    expect(runsJson.map((r) => [r.number, r.actor])).toEqual([
      [2, "alice"],
      [1, "admin"],
    ]);

    // skiff releases: the same.
    const releaseRows = tableRows((await skiffOk(sandbox, ["releases", shop])).stdout);
    expect(releaseRows.map((r) => [r.RELEASE, r.STATUS, r.TRIGGER, r.BY])).toEqual([
      ["r2 (live)", "live", "git-push", "alice"],
      ["r1", "superseded", "git-push", "admin"],
    ]);
    const { releases: listed } = await releases();
    expect(listed.map((r) => [r.number, r.actor])).toEqual([
      [2, "alice"],
      [1, "admin"],
    ]);

    // skiff events says who started which run.
    const events = (await skiffOk(sandbox, ["events", "--limit", "200"])).stdout;
    expect(events).toContain(
      `run 2 (git-push of ${commits.get("v2")?.slice(0, 12)}) started by alice`,
    );
    expect(events).toContain(
      `run 1 (git-push of ${commits.get("v1")?.slice(0, 12)}) started by admin`,
    );
    expect(events).toMatch(
      new RegExp(`token alice \\(deploy for ${shop}, expires [^)]+\\) created by admin`),
    );

    // skiff tokens shows that alice's token was used.
    const [listedAlice] = tableRows((await skiffOk(sandbox, ["tokens"])).stdout);
    expect(listedAlice).toMatchObject({ NAME: "alice", SCOPE: "deploy", APP: shop });
    expect(listedAlice?.["LAST USED"]).toMatch(/^\S+ ago/);
  });

  it("lets a deploy token push, read and roll back its app, and nothing else; a read token only reads", async () => {
    // git: another app's repository, fetched or pushed, is refused with what is wrong.
    const toBlog = `http://127.0.0.1:${sandbox.apiPort}/git/${blog}.git`;
    const pushBlog = await userGit(["push", toBlog, "main"], aliceTree);
    expect(pushBlog.code).not.toBe(0);
    expect(pushBlog.stderr).toContain(
      `remote: the token "alice" is for the app ${shop}, not ${blog}`,
    );
    expect(pushBlog.stderr).toContain("The requested URL returned error: 403");
    const lsBlog = await userGit(["ls-remote", toBlog], aliceTree);
    expect(lsBlog.code).not.toBe(0);
    expect(lsBlog.stderr).toContain(`the token "alice" is for the app ${shop}, not ${blog}`);
    expect(lsBlog.stderr).toContain("The requested URL returned error: 403");
    expect(await listRuns(sandbox, blog)).toEqual([]);

    // The API: shop's runs, releases, ps and the app itself are open to it.
    for (const path of [
      `/api/v1/apps/${shop}`,
      `/api/v1/apps/${shop}/runs`,
      `/api/v1/apps/${shop}/runs/2`,
      `/api/v1/apps/${shop}/runs/2/log`,
      `/api/v1/apps/${shop}/runs/2/events`,
      `/api/v1/apps/${shop}/releases`,
      `/api/v1/apps/${shop}/ps`,
    ]) {
      expect((await api(aliceToken, "GET", path)).status, path).toBe(200);
    }
    // Its config, the admin routes of its app, another app and the platform are not.
    const deployNeedsAdmin = 'the token "alice" has the deploy scope, and this needs admin';
    const otherApp = `the token "alice" is for the app ${shop}, not ${blog}`;
    const platform = `the token "alice" is for the app ${shop} and cannot use platform routes`;
    const refusals: [string, string, unknown, string][] = [
      ["GET", `/api/v1/apps/${shop}/config`, undefined, deployNeedsAdmin],
      [
        "PATCH",
        `/api/v1/apps/${shop}/config`,
        { set: { INTRUDER: "x" }, restart: false },
        deployNeedsAdmin,
      ],
      // Bodies the routes would refuse anyway (400), so a hole in the policy shows without harm.
      ["POST", `/api/v1/apps/${shop}/scale`, {}, deployNeedsAdmin],
      ["DELETE", `/api/v1/apps/${shop}`, undefined, deployNeedsAdmin],
      ["GET", `/api/v1/apps/${blog}/runs`, undefined, otherApp],
      ["GET", `/api/v1/apps/${blog}`, undefined, otherApp],
      ["POST", `/api/v1/apps/${blog}/rollback`, {}, otherApp],
      ["GET", "/api/v1/status", undefined, platform],
      ["GET", "/api/v1/events", undefined, platform],
      ["GET", "/api/v1/tokens", undefined, platform],
      ["POST", "/api/v1/tokens", { name: "alice-admin", scope: "admin" }, platform],
      ["GET", "/api/v1/apps", undefined, platform],
    ];
    for (const [method, path, body, message] of refusals) {
      const answer = await api(aliceToken, method, path, body);
      expect(
        [answer.status, answer.body.error?.code, answer.body.error?.message],
        `${method} ${path}`,
      ).toEqual([403, "forbidden", message]);
    }
    const config = JSON.parse((await skiffOk(sandbox, ["config", shop, "--json"])).stdout);
    expect(config.app).not.toHaveProperty("INTRUDER");
    expect(
      JSON.parse((await skiffOk(sandbox, ["tokens", "--json"])).stdout).map(
        (t: { name: string }) => t.name,
      ),
    ).toEqual(["alice"]);

    // The CLI with SKIFF_TOKEN: the same answers, the server's message printed.
    const asAlice = { SKIFF_TOKEN: aliceToken };
    expect((await skiffOk(sandbox, ["runs", shop], asAlice)).stdout).toMatch(
      /^2 +succeeded +git-push +alice /m,
    );
    const cliConfig = await skiff(sandbox, ["config", shop], asAlice);
    expect(cliConfig.code).toBe(1);
    expect(cliConfig.stderr).toContain(deployNeedsAdmin);

    // skiff deploy (an upload of the work tree) to its app is alice's; to another app, refused.
    writeFiles(aliceTree, files("uploaded"));
    const toBlogUpload = await skiff(sandbox, ["deploy", aliceTree, "--app", blog], asAlice);
    expect(toBlogUpload.code).toBe(1);
    expect(toBlogUpload.stderr).toContain(otherApp);
    const uploaded = await skiffOk(sandbox, ["deploy", aliceTree, "--app", shop], asAlice);
    expect(uploaded.stdout).toContain(`skiff: run 3 of ${shop} (uploaded ${aliceTree})`);
    const [upload] = await listRuns(sandbox, shop);
    expect([upload?.number, upload?.status, upload?.trigger, upload?.actor]).toEqual([
      3,
      "succeeded",
      "upload",
      "alice",
    ]);
    expect(await getThroughEdge(sandbox.edgePort, host, "/")).toEqual({
      status: 200,
      body: `${shop} uploaded\n`,
    });

    // A rollback of its app is accepted, and is alice's.
    const rollback = await api(aliceToken, "POST", `/api/v1/apps/${shop}/rollback`, {});
    expect([rollback.status, rollback.body]).toEqual([202, { run: 4, rollbackTo: 2 }]);
    const rolled = await waitForRun(sandbox, shop, 4);
    expect([rolled.status, rolled.trigger, rolled.actor]).toEqual([
      "succeeded",
      "rollback",
      "alice",
    ]);
    const afterRollback = await releases();
    expect(afterRollback.live).toBe(4);
    expect(afterRollback.releases[0]).toMatchObject({ number: 4, rollbackOf: 2, actor: "alice" });
    const events = await eventMessages();
    expect(events).toContain(`run 3 (upload) started by alice`);
    expect(events).toContain(
      `run 4 (rollback of ${commits.get("v2")?.slice(0, 12)}) started by alice`,
    );
    expect(await getThroughEdge(sandbox.edgePort, host, "/")).toEqual({
      status: 200,
      body: `${shop} v2\n`,
    });

    // A read token: reads and fetches, and neither rolls back nor pushes.
    const viewerFile = join(root, ".viewer-token");
    viewerToken = await createToken("viewer", ["--app", shop, "--scope", "read"], viewerFile);
    expect((await api(viewerToken, "GET", `/api/v1/apps/${shop}/runs`)).status).toBe(200);
    expect((await api(viewerToken, "GET", `/api/v1/apps/${shop}/releases`)).status).toBe(200);
    const refusedRollback = await api(viewerToken, "POST", `/api/v1/apps/${shop}/rollback`, {});
    expect([refusedRollback.status, refusedRollback.body.error?.message]).toEqual([
      403,
      'the token "viewer" has the read scope, and this needs deploy',
    ]);
    const remote = `http://127.0.0.1:${sandbox.apiPort}/git/${shop}.git`;
    const viewerTree = join(root, "viewer");
    const cloned = await userGit(
      [
        "-c",
        `credential.helper=${credentialHelper(viewerFile)}`,
        "clone",
        "--quiet",
        remote,
        viewerTree,
      ],
      root,
    );
    expect(cloned.code, cloned.stderr).toBe(0);
    expect(readFileSync(join(viewerTree, "www/index.html"), "utf8")).toBe(`${shop} v2\n`);
    const helper = await userGit(
      ["config", "credential.helper", credentialHelper(viewerFile)],
      viewerTree,
    );
    expect(helper.code, helper.stderr).toBe(0);
    const listedRefs = await userGit(["ls-remote", "origin"], viewerTree);
    expect(listedRefs.code, listedRefs.stderr).toBe(0);
    expect(listedRefs.stdout).toContain(`${commits.get("v2")}\trefs/heads/main`);
    const fetched = await userGit(["fetch", "origin"], viewerTree);
    expect(fetched.code, fetched.stderr).toBe(0);
    await commitFiles(viewerTree, { "www/index.html": "from viewer\n" }, "viewer", env);
    const viewerPush = await userGit(["push", "origin", "main"], viewerTree);
    expect(viewerPush.code).not.toBe(0);
    expect(viewerPush.stderr).toContain(
      'remote: the token "viewer" has the read scope, and this needs deploy',
    );
    expect(viewerPush.stderr).toContain("The requested URL returned error: 403");
    // Cancelling a run needs deploy too (a finished run: nothing to cancel, but allowed).
    const viewerCancel = await api(viewerToken, "POST", `/api/v1/apps/${shop}/runs/1/cancel`);
    expect([viewerCancel.status, viewerCancel.body.error?.message]).toEqual([
      403,
      'the token "viewer" has the read scope, and this needs deploy',
    ]);
    const aliceCancel = await api(aliceToken, "POST", `/api/v1/apps/${shop}/runs/1/cancel`);
    expect([aliceCancel.status, aliceCancel.body.cancelled]).toEqual([200, false]);
    expect((await listRuns(sandbox, shop)).map((r) => r.number)).toEqual([4, 3, 2, 1]);
  });

  it("records the admin as the one who changed the config, by names only", async () => {
    const value = `hello-${randomBytes(4).toString("hex")}`;
    const set = await skiffOk(sandbox, ["config:set", shop, `GREETING=${value}`]);
    expect(set.stdout).toContain(`skiff: run 5 of ${shop}: a new release with this config`);
    const [run] = await listRuns(sandbox, shop);
    expect([run?.number, run?.status, run?.trigger, run?.actor]).toEqual([
      5,
      "succeeded",
      "config",
      "admin",
    ]);
    expect((await releases()).releases[0]).toMatchObject({ number: 5, actor: "admin" });
    const runs = tableRows((await skiffOk(sandbox, ["runs", shop])).stdout);
    expect(runs[0]).toMatchObject({ RUN: "5", TRIGGER: "config", BY: "admin" });
    const events = await eventMessages();
    expect(events).toContain("config:set GREETING by admin: GREETING changed");
    expect(events).toContain("run 5 (config) started by admin");
    expect(events.filter((m) => m.includes(value))).toEqual([]);
  });

  it("never shows a token's value again, keeps only its hash, and refuses a taken name or a deploy token for every app", async () => {
    const listed = await skiffOk(sandbox, ["tokens"]);
    expect(tableRows(listed.stdout).map((r) => [r.NAME, r.SCOPE, r.APP])).toEqual([
      ["alice", "deploy", shop],
      ["viewer", "read", shop],
    ]);
    const json = JSON.parse((await skiffOk(sandbox, ["tokens", "--json"])).stdout) as Record<
      string,
      unknown
    >[];
    expect(json.map((t) => Object.keys(t).sort())).toEqual([
      ["app", "createdAt", "expiresAt", "lastUsedAt", "name", "scope"],
      ["app", "createdAt", "expiresAt", "lastUsedAt", "name", "scope"],
    ]);
    const apiList = await api(readToken(sandbox), "GET", "/api/v1/tokens");
    const printed = [
      listed.stdout,
      listed.stderr,
      JSON.stringify(json),
      JSON.stringify(apiList.body),
    ].join("\n");
    const hashes = [hashHex(aliceToken), hashHex(viewerToken)];
    for (const secret of [aliceToken, viewerToken, ...hashes])
      expect(printed).not.toContain(secret);

    // On disk: the sha256 in the tokens table, the value in no file Skiff keeps.
    const db = new Database(join(sandbox.home, "skiff.db"), {
      readonly: true,
      fileMustExist: true,
    });
    try {
      const rows = db.prepare("SELECT name, token_hash FROM tokens ORDER BY name").all();
      expect(rows).toEqual([
        { name: "alice", token_hash: hashes[0] },
        { name: "viewer", token_hash: hashes[1] },
      ]);
    } finally {
      db.close();
    }
    const found = filesUnder(sandbox.home).flatMap((f) =>
      [aliceToken, viewerToken].filter((t) => f.bytes.includes(t)).map(() => f.path),
    );
    expect(found).toEqual([]);

    // A taken name: 409, and the token it names keeps working.
    const taken = await skiff(sandbox, [
      "tokens:create",
      "alice",
      "--app",
      shop,
      "--scope",
      "read",
    ]);
    expect([taken.code, taken.stdout]).toEqual([1, ""]);
    expect(taken.stderr).toContain('a token named "alice" exists already');
    expect(taken.stderr).toContain("skiff tokens:revoke alice");
    const takenApi = await api(readToken(sandbox), "POST", "/api/v1/tokens", {
      name: "alice",
      scope: "read",
      app: shop,
    });
    expect([takenApi.status, takenApi.body.error?.code]).toEqual([409, "conflict"]);
    expect((await api(aliceToken, "GET", `/api/v1/apps/${shop}/runs`)).status).toBe(200);

    // A deploy token for every app: refused, with what to do.
    const everyApp = await skiff(sandbox, ["tokens:create", "ci", "--scope", "deploy"]);
    expect([everyApp.code, everyApp.stdout]).toEqual([1, ""]);
    expect(everyApp.stderr).toContain("a deploy token is for one app: name it with --app");
    const everyAppApi = await api(readToken(sandbox), "POST", "/api/v1/tokens", {
      name: "ci",
      scope: "deploy",
    });
    expect(everyAppApi.status).toBe(400);
    expect(
      JSON.parse((await skiffOk(sandbox, ["tokens", "--json"])).stdout).map(
        (t: { name: string }) => t.name,
      ),
    ).toEqual(["alice", "viewer"]);
  });

  it("stops a revoked token at once, and lists a token's expiry", async () => {
    const revoked = await skiffOk(sandbox, ["tokens:revoke", "alice"]);
    expect(revoked.stdout).toBe("skiff: token alice revoked\n");

    // The very next push through alice's credential helper: 401, nothing run.
    commits.set("v3", await commitFiles(aliceTree, files("v3"), "v3", env));
    const pushed = await userGit(["push", "skiff", "main"], aliceTree);
    expect(pushed.code).not.toBe(0);
    expect(pushed.stderr).toContain(
      "remote: the password is not a valid Skiff token (unknown, revoked or expired)",
    );
    // git's words for a 401 with credentials (remote-curl.c, HTTP_NOAUTH).
    expect(pushed.stderr).toContain("Authentication failed");
    const gitAnswer = await fetch(
      `${sandbox.apiUrl}/git/${shop}.git/info/refs?service=git-receive-pack`,
      {
        headers: {
          authorization: `Basic ${Buffer.from(`skiff:${aliceToken}`).toString("base64")}`,
        },
      },
    );
    expect(gitAnswer.status).toBe(401);
    await gitAnswer.body?.cancel();
    const apiAnswer = await api(aliceToken, "GET", `/api/v1/apps/${shop}/runs`);
    expect([apiAnswer.status, apiAnswer.body.error?.code]).toEqual([401, "unauthorized"]);
    expect((await listRuns(sandbox, shop)).map((r) => r.number)).toEqual([5, 4, 3, 2, 1]);
    expect(await eventMessages()).toContain("token alice revoked by admin");
    const gone = await skiff(sandbox, ["tokens:revoke", "alice"]);
    expect([gone.code, gone.stderr.includes('no token named "alice"')]).toEqual([1, true]);

    // A token made to last a minute works now and is listed to expire a minute from its making.
    const before = Date.now();
    const brief = JSON.parse(
      (
        await skiffOk(sandbox, [
          "tokens:create",
          "brief",
          "--app",
          shop,
          "--scope",
          "read",
          "--expires",
          "1m",
          "--json",
        ])
      ).stdout,
    ) as { token: string; createdAt: string; expiresAt: string };
    const after = Date.now();
    briefToken = brief.token;
    // createdAt and expiresAt are read from the clock one after the other: a millisecond may pass.
    expect(Date.parse(brief.expiresAt) - Date.parse(brief.createdAt)).toBeGreaterThanOrEqual(
      59_000,
    );
    expect(Date.parse(brief.expiresAt) - Date.parse(brief.createdAt)).toBeLessThanOrEqual(60_000);
    expect(Date.parse(brief.expiresAt)).toBeGreaterThanOrEqual(before + 60_000 - 1000);
    expect(Date.parse(brief.expiresAt)).toBeLessThanOrEqual(after + 60_000 + 1000);
    expect((await api(brief.token, "GET", `/api/v1/apps/${shop}/runs`)).status).toBe(200);
    const forever = JSON.parse(
      (
        await skiffOk(sandbox, [
          "tokens:create",
          "forever",
          "--app",
          shop,
          "--scope",
          "read",
          "--expires",
          "never",
          "--json",
        ])
      ).stdout,
    ) as { token: string };
    expect(forever).not.toHaveProperty("expiresAt");
    foreverToken = forever.token;
    const rows = tableRows((await skiffOk(sandbox, ["tokens"])).stdout);
    expect(rows.map((r) => [r.NAME, r.EXPIRES])).toEqual([
      ["brief", brief.expiresAt.slice(0, 10)],
      ["forever", "never"],
      ["viewer", expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/)],
    ]);
    // Without --expires: 90 days.
    const viewer = (
      JSON.parse((await skiffOk(sandbox, ["tokens", "--json"])).stdout) as TokenRecord[]
    ).find((t) => t.name === "viewer");
    const lifetime = Date.parse(viewer?.expiresAt ?? "") - Date.parse(viewer?.createdAt ?? "");
    expect(Math.abs(lifetime - 90 * 86_400_000)).toBeLessThan(1000);
  });

  it("refuses a token past its expiry on the API and git, and keeps the others across a restart", async () => {
    // The server reads the clock itself, and a minute is too long to wait: with the server
    // stopped, brief's expiry is moved to a second ago, then the server starts again.
    expect((await skiffOk(sandbox, ["server", "stop"])).stdout).toContain("skiff server stopped");
    const db = new Database(join(sandbox.home, "skiff.db"), { fileMustExist: true });
    try {
      const moved = db
        .prepare("UPDATE tokens SET expires_at = ? WHERE name = 'brief'")
        .run(new Date(Date.now() - 1000).toISOString());
      expect(moved.changes).toBe(1);
    } finally {
      db.close();
    }
    await startBackgroundServer(sandbox);

    const refused = await api(briefToken, "GET", `/api/v1/apps/${shop}/runs`);
    expect([refused.status, refused.body.error?.message]).toEqual([
      401,
      "the bearer token is not valid (unknown, revoked or expired)",
    ]);
    const briefFile = join(root, ".brief-token");
    writeFileSync(briefFile, `${briefToken}\n`, { mode: 0o600 });
    const listed = await userGit(
      [
        "-c",
        `credential.helper=${credentialHelper(briefFile)}`,
        "ls-remote",
        `http://127.0.0.1:${sandbox.apiPort}/git/${shop}.git`,
      ],
      root,
    );
    expect(listed.code).not.toBe(0);
    expect(listed.stderr).toContain(
      "remote: the password is not a valid Skiff token (unknown, revoked or expired)",
    );
    expect(listed.stderr).toContain("Authentication failed");

    expect((await api(foreverToken, "GET", `/api/v1/apps/${shop}/runs`)).status).toBe(200);
    expect((await api(viewerToken, "GET", `/api/v1/apps/${shop}/releases`)).status).toBe(200);

    // After all the uses and refusals, still no file Skiff keeps holds a token's value.
    const values = {
      alice: aliceToken,
      viewer: viewerToken,
      brief: briefToken,
      forever: foreverToken,
    };
    const found = filesUnder(sandbox.home).flatMap((f) =>
      Object.entries(values)
        .filter(([, value]) => f.bytes.includes(value))
        .map(([name]) => `${name} in ${f.path}`),
    );
    expect(found).toEqual([]);
  });
});
