import { randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportCommit, readBlobAt } from "../src/git/export-commit.js";
import { isNullObjectId } from "../src/git/git-command.js";
import { PRE_RECEIVE_PATH } from "../src/git/hook-protocol.js";
import type { PushOutput, PushRequest, PushResult } from "../src/git/push.js";
import { ADMIN } from "../src/server/admin-token.js";
import { registerGitRoutes } from "../src/server/git/http-backend.js";
import {
  createHookToken,
  hookEnvironment,
  registerPreReceiveRoute,
} from "../src/server/git/pre-receive-hook.js";
import { git, gitOk, isolatedGitEnv, startGit } from "./support/git-cli.js";
import { freePort } from "./support/skiff-harness.js";

const TOKEN = `skiff_${randomBytes(16).toString("hex")}`;

interface SeenRequest {
  method: string;
  url: string;
  contentEncoding?: string;
  transferEncoding?: string;
  status?: number;
}

describe("git push over smart HTTP, with the pipeline inside pre-receive", () => {
  let root: string;
  let reposRoot: string;
  let env: NodeJS.ProcessEnv;
  let server: FastifyInstance;
  let port: number;
  let closedPort: number;
  const hookToken = createHookToken();
  const apps = new Set(["shop", "big", "many", "slow", "disk", "down"]);
  const appExistsCalls: string[] = [];
  const pushes: PushRequest[] = [];
  /** Files each pushed commit had, as exportCommit wrote them from the quarantine. */
  const exported = new Map<string, string[]>();
  const seen: SeenRequest[] = [];
  let slowAborted: Promise<void> = new Promise(() => {});

  /** The fake pipeline: a few lines with pauses; fails for refs/heads/fail or a FAIL file in the tree. */
  async function onPush(push: PushRequest, out: PushOutput): Promise<PushResult> {
    pushes.push(push);
    if (push.app === "slow") {
      out.line("skiff: slow pipeline started");
      slowAborted = new Promise((resolve) => out.signal.addEventListener("abort", () => resolve()));
      await slowAborted;
      return { ok: false, reason: "cancelled" };
    }
    const pause = push.updates.length > 2 ? 0 : 300;
    out.line(`skiff: pipeline for ${push.app} started`);
    for (const update of push.updates) {
      if (isNullObjectId(update.newSha) || !update.ref.startsWith("refs/heads/")) continue;
      out.line(`skiff: source ${update.ref} at ${update.newSha.slice(0, 7)}`);
      await sleep(pause);
      const dest = mkdtempSync(join(root, "export-"));
      try {
        await exportCommit({
          gitDir: push.gitDir,
          commit: update.newSha,
          quarantine: push.quarantine,
          destDir: dest,
        });
        const files = readdirSync(dest).sort();
        exported.set(update.newSha, files);
        const compose = await readBlobAt({
          gitDir: push.gitDir,
          commit: update.newSha,
          path: "compose.yaml",
          quarantine: push.quarantine,
        });
        out.line(
          `skiff: exported ${files.length} files; compose.yaml ${compose ? "found" : "missing"}`,
        );
        await sleep(pause);
        if (update.ref === "refs/heads/fail") {
          return { ok: false, reason: "the build failed: refs/heads/fail always fails" };
        }
        if (files.includes("FAIL")) {
          out.line("::skiff-result ok"); // output that imitates a verdict must not pass as one
          return { ok: false, reason: "the tests failed: FAIL is in the tree" };
        }
      } finally {
        rmSync(dest, { recursive: true, force: true });
      }
      out.line("skiff: build ok");
      await sleep(pause);
      out.line("skiff: deployed");
    }
    return { ok: true };
  }

  const remote = (app: string, password = TOKEN) =>
    `http://deployer:${password}@127.0.0.1:${port}/git/${app}.git`;
  const repoOf = (app: string) => join(reposRoot, `${app}.git`);

  /** The server's value of a ref, or undefined. */
  async function serverRef(app: string, ref: string): Promise<string | undefined> {
    const result = await git(["--git-dir", repoOf(app), "rev-parse", "--verify", "--quiet", ref], {
      cwd: root,
      env,
    });
    return result.code === 0 ? result.stdout.trim() : undefined;
  }

  /** A fresh working copy with one commit. */
  async function worktree(name: string, files: Record<string, string | Buffer>): Promise<string> {
    const dir = join(root, "work", name);
    mkdirSync(dir, { recursive: true });
    await gitOk(["init", "--quiet", "--initial-branch=main"], { cwd: dir, env });
    for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content);
    await gitOk(["add", "-A"], { cwd: dir, env });
    await gitOk(["commit", "--quiet", "-m", "first"], { cwd: dir, env });
    return dir;
  }

  function rawGet(
    path: string,
    authorization?: string,
  ): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const request = httpRequest(
        {
          host: "127.0.0.1",
          port,
          path,
          method: "GET",
          headers: authorization ? { authorization } : {},
        },
        (response) => {
          let body = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => {
            body += chunk;
          });
          response.on("end", () =>
            resolve({ status: response.statusCode ?? 0, body, headers: response.headers }),
          );
        },
      );
      request.on("error", reject);
      request.end();
    });
  }
  const basic = (password: string) =>
    `Basic ${Buffer.from(`deployer:${password}`).toString("base64")}`;

  beforeAll(async () => {
    // Spaces, quotes and a `$(...)` in every path the hook and the server pass around.
    root = mkdtempSync(join(tmpdir(), `skiff git-push it's "odd" $(false) `));
    reposRoot = join(root, "repos");
    env = isolatedGitEnv(join(root, "home"));

    // A test that fails halfway may leave a push open; closing must not wait for it.
    server = Fastify({ logger: false, forceCloseConnections: true });
    server.addHook("onRequest", async (request) => {
      if (!request.url.startsWith("/git/")) return;
      seen.push({
        method: request.method,
        url: request.url,
        ...(request.headers["content-encoding"]
          ? { contentEncoding: request.headers["content-encoding"] }
          : {}),
        ...(request.headers["transfer-encoding"]
          ? { transferEncoding: request.headers["transfer-encoding"] }
          : {}),
      });
    });
    registerGitRoutes(server, {
      reposRoot,
      authenticate: (password) => (password === TOKEN ? ADMIN : undefined),
      pushers: new Map(),
      appExists: (name) => {
        appExistsCalls.push(name);
        return apps.has(name);
      },
      hookEnv: (app) =>
        hookEnvironment({
          app,
          // "down" sends its hook to a port nobody listens on: a server that went away.
          hookUrl: `http://127.0.0.1:${app === "down" ? closedPort : port}${PRE_RECEIVE_PATH}`,
          hookToken,
        }),
    });
    registerPreReceiveRoute(server, { hookToken, onPush });
    await server.listen({ host: "127.0.0.1", port: 0 });
    port = (server.server.address() as AddressInfo).port;
    closedPort = await freePort();
  });

  afterAll(async () => {
    await server?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("runs the pipeline inside pre-receive, streams its lines live and moves the branch", async () => {
    const dir = await worktree("shop", {
      "compose.yaml": "services:\n  web:\n    image: local/web\n",
      "app.txt": "hello\n",
      // export-ignore must not drop files from a build context.
      ".gitattributes": "ignored.txt export-ignore\n",
      "ignored.txt": "still exported\n",
    });
    const head = await gitOk(["rev-parse", "HEAD"], { cwd: dir, env });
    const result = await startGit(["push", "--progress", remote("shop"), "main"], { cwd: dir, env })
      .result;
    expect(result.code, result.stderr).toBe(0);

    const remoteLines = result.lines.filter((line) => line.text.startsWith("remote: skiff:"));
    expect(remoteLines.map((line) => line.text.trimEnd())).toEqual([
      "remote: skiff: pipeline for shop started",
      `remote: skiff: source refs/heads/main at ${head.slice(0, 7)}`,
      "remote: skiff: exported 4 files; compose.yaml found",
      "remote: skiff: build ok",
      "remote: skiff: deployed",
    ]);
    // Live: the first line reached the pusher's terminal while the pipeline still had ~900 ms to go.
    const first = remoteLines[0]?.at ?? Number.POSITIVE_INFINITY;
    const last = remoteLines.at(-1)?.at ?? 0;
    expect(last - first).toBeGreaterThan(600);
    expect(first).toBeLessThan(result.duration - 600);
    expect(result.stderr).not.toContain("::skiff-result");

    expect(await serverRef("shop", "refs/heads/main")).toBe(head);
    expect(exported.get(head)).toEqual([
      ".gitattributes",
      "app.txt",
      "compose.yaml",
      "ignored.txt",
    ]);
    const push = pushes.at(-1);
    expect(push).toMatchObject({
      app: "shop",
      gitDir: repoOf("shop"),
      updates: [{ oldSha: "0".repeat(40), newSha: head, ref: "refs/heads/main" }],
    });
    expect(push?.quarantine.GIT_QUARANTINE_PATH).toMatch(/tmp_objdir-incoming/);

    // The hook file carries neither a port nor a token: those come with each push.
    const hook = readFileSync(join(repoOf("shop"), "hooks", "pre-receive"), "utf8");
    expect(hook).not.toContain(String(port));
    expect(hook).not.toContain(TOKEN);
    expect(hook).not.toContain(hookToken);
  });

  it("rejects the push when the run fails, and leaves the branch where it was", async () => {
    const dir = join(root, "work", "shop");
    const before = await serverRef("shop", "refs/heads/main");

    const failRef = await git(["push", "--progress", remote("shop"), "main:refs/heads/fail"], {
      cwd: dir,
      env,
    });
    expect(failRef.code).not.toBe(0);
    expect(failRef.stderr).toContain(
      "remote: skiff: push rejected: the build failed: refs/heads/fail always fails",
    );
    expect(failRef.stderr).toContain("pre-receive hook declined");
    expect(await serverRef("shop", "refs/heads/fail")).toBeUndefined();

    writeFileSync(join(dir, "FAIL"), "make the tests fail\n");
    await gitOk(["add", "FAIL"], { cwd: dir, env });
    await gitOk(["commit", "--quiet", "-m", "break it"], { cwd: dir, env });
    const broken = await gitOk(["rev-parse", "HEAD"], { cwd: dir, env });
    const failTree = await git(["push", "--progress", remote("shop"), "main"], { cwd: dir, env });
    expect(failTree.code).not.toBe(0);
    expect(failTree.stderr).toContain("push rejected: the tests failed: FAIL is in the tree");
    // A line imitating the verdict was shown as text, not taken as the result.
    expect(failTree.stderr).toContain("remote:  ::skiff-result ok");
    expect(await serverRef("shop", "refs/heads/main")).toBe(before);
    // The quarantine went away with the rejected push: its objects never entered the repository.
    const object = await git(["--git-dir", repoOf("shop"), "cat-file", "-e", broken], {
      cwd: root,
      env,
    });
    expect(object.code).not.toBe(0);

    // Fixed and pushed again: accepted.
    await gitOk(["rm", "--quiet", "FAIL"], { cwd: dir, env });
    await gitOk(["commit", "--quiet", "-m", "fix it"], { cwd: dir, env });
    const fixed = await git(["push", remote("shop"), "main"], { cwd: dir, env });
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(await serverRef("shop", "refs/heads/main")).toBe(
      await gitOk(["rev-parse", "HEAD"], { cwd: dir, env }),
    );
  });

  it("answers a wrong password with 401 and git says Authentication failed", async () => {
    const dir = join(root, "work", "shop");
    const result = await git(["push", remote("shop", "not-the-token"), "main"], { cwd: dir, env });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("Authentication failed");
    expect(result.stderr).toContain("remote: the password is not a valid Skiff token");

    const response = await rawGet(
      "/git/shop.git/info/refs?service=git-receive-pack",
      basic("nope"),
    );
    expect(response.status).toBe(401);
    expect(response.headers["www-authenticate"]).toBe('Basic realm="Skiff"');
  });

  it("fails cleanly without credentials when git may not prompt", async () => {
    const dir = join(root, "work", "shop");
    const url = `http://127.0.0.1:${port}/git/shop.git`;
    const result = await git(["push", url, "main"], {
      cwd: dir,
      env: { ...env, GIT_TERMINAL_PROMPT: "0" },
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/terminal prompts disabled|could not read Username/);

    const response = await rawGet("/git/shop.git/info/refs?service=git-upload-pack");
    expect(response.status).toBe(401);
    expect(response.headers["www-authenticate"]).toBe('Basic realm="Skiff"');
  });

  it("tells the pusher that an app does not exist and how to create it", async () => {
    const dir = join(root, "work", "shop");
    const result = await git(["push", remote("nope"), "main"], { cwd: dir, env });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('remote: no app named "nope" on this Skiff server');
    expect(result.stderr).toContain("skiff apps:create nope");
    expect(result.stderr).toContain("not found");
    expect(existsSync(repoOf("nope"))).toBe(false);

    const response = await rawGet("/git/nope.git/info/refs?service=git-receive-pack", basic(TOKEN));
    expect(response.status).toBe(404);
  });

  it("serves clones and fetches of the pushed repository with the token", async () => {
    const clone = join(root, "work", "shop-clone");
    const cloned = await git(["clone", "--quiet", remote("shop"), clone], { cwd: root, env });
    expect(cloned.code, cloned.stderr).toBe(0);
    expect(readFileSync(join(clone, "app.txt"), "utf8")).toBe("hello\n");
    expect(await gitOk(["rev-parse", "HEAD"], { cwd: clone, env })).toBe(
      await serverRef("shop", "refs/heads/main"),
    );

    const dir = join(root, "work", "shop");
    writeFileSync(join(dir, "app.txt"), "hello again\n");
    await gitOk(["commit", "--quiet", "-am", "second"], { cwd: dir, env });
    expect((await git(["push", remote("shop"), "main"], { cwd: dir, env })).code).toBe(0);
    const fetched = await git(["pull", "--quiet", "--ff-only"], { cwd: clone, env });
    expect(fetched.code, fetched.stderr).toBe(0);
    expect(readFileSync(join(clone, "app.txt"), "utf8")).toBe("hello again\n");

    // A wrong token cannot read either.
    const denied = await git(["ls-remote", remote("shop", "wrong")], { cwd: root, env });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain("Authentication failed");
  });

  it("takes a push of several MB (a chunked request body)", async () => {
    const files: Record<string, Buffer | string> = { "compose.yaml": "services: {}\n" };
    for (let i = 0; i < 4; i++) files[`blob-${i}.bin`] = randomBytes(1024 * 1024);
    const dir = await worktree("big", files);
    const seenBefore = seen.length;
    const result = await git(["push", remote("big"), "main"], { cwd: dir, env });
    expect(result.code, result.stderr).toBe(0);
    expect(await serverRef("big", "refs/heads/main")).toBe(
      await gitOk(["rev-parse", "HEAD"], { cwd: dir, env }),
    );
    expect(exported.get(await gitOk(["rev-parse", "HEAD"], { cwd: dir, env }))).toHaveLength(5);
    // More than http.postBuffer (1 MiB): git streams the pack with chunked encoding.
    const receivePacks = seen.slice(seenBefore).filter((r) => r.url.endsWith("/git-receive-pack"));
    expect(receivePacks.some((r) => r.transferEncoding === "chunked")).toBe(true);
  });

  it("takes a gzip-compressed fetch request (many wanted refs)", async () => {
    const dir = await worktree("many", { "compose.yaml": "services: {}\n" });
    for (let i = 0; i < 40; i++) {
      await gitOk(["commit", "--quiet", "--allow-empty", "-m", `commit ${i}`], { cwd: dir, env });
      await gitOk(["tag", `v${i}`], { cwd: dir, env });
    }
    const pushed = await git(["push", remote("many"), "main", "--tags"], { cwd: dir, env });
    expect(pushed.code, pushed.stderr).toBe(0);

    const seenBefore = seen.length;
    const clone = join(root, "work", "many-clone");
    const cloned = await git(["clone", "--quiet", remote("many"), clone], { cwd: root, env });
    expect(cloned.code, cloned.stderr).toBe(0);
    expect(await gitOk(["tag", "--list"], { cwd: clone, env })).toContain("v39");
    const uploadPacks = seen.slice(seenBefore).filter((r) => r.url.endsWith("/git-upload-pack"));
    expect(uploadPacks.some((r) => r.contentEncoding === "gzip")).toBe(true);
  });

  it("refuses repository names that are not APP.git without touching the filesystem", async () => {
    const callsBefore = appExistsCalls.length;
    for (const path of [
      "/git/..%2F..%2Fetc/info/refs",
      "/git/..%2fshop.git/info/refs",
      "/git/%2e%2e/info/refs",
      "/git/../../etc/info/refs",
      "/git/shop.git%2F..%2Fbig.git/info/refs",
      "/git/SHOP.git/info/refs",
      "/git/shop/info/refs",
      "/git/.git/info/refs",
      "/git/-shop.git/info/refs",
    ]) {
      const response = await rawGet(`${path}?service=git-upload-pack`, basic(TOKEN));
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
    }
    expect(appExistsCalls.slice(callsBefore)).toEqual([]);
    expect(readdirSync(reposRoot).sort()).toEqual(["big.git", "many.git", "shop.git"]); // none for the bad names
  });

  it("refuses a push made straight to the repository on disk", async () => {
    const dir = await worktree("disk", { "compose.yaml": "services: {}\n" });
    // The repository exists once Skiff has served it.
    expect((await git(["ls-remote", remote("disk")], { cwd: dir, env })).code).toBe(0);
    const result = await git(["push", repoOf("disk"), "main"], { cwd: dir, env });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("did not come through the Skiff server");
    expect(result.stderr).toContain("/git/disk.git");
    expect(await serverRef("disk", "refs/heads/main")).toBeUndefined();
  });

  it("rejects the push, saying why, when the hook cannot reach the Skiff server", async () => {
    const dir = await worktree("down", { "compose.yaml": "services: {}\n" });
    const result = await git(["push", remote("down"), "main"], { cwd: dir, env });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      `remote: skiff: push rejected: could not reach the Skiff server at http://127.0.0.1:${closedPort} (Failed to connect`,
    );
    expect(result.stderr).toContain("is it running? (skiff server status)");
    expect(await serverRef("down", "refs/heads/main")).toBeUndefined();
  });

  it("aborts the run when the pusher presses Ctrl-C", async () => {
    const dir = await worktree("slow", { "compose.yaml": "services: {}\n" });
    const running = startGit(["push", "--progress", remote("slow"), "main"], { cwd: dir, env });
    const deadline = Date.now() + 15_000;
    while (
      !running.lines.some((l) => l.text.includes("slow pipeline started")) &&
      Date.now() < deadline
    ) {
      await sleep(50);
    }
    expect(running.lines.map((l) => l.text.trimEnd())).toContain(
      "remote: skiff: slow pipeline started",
    );
    running.interrupt();
    const aborted = await Promise.race([
      slowAborted.then(() => true),
      sleep(5_000).then(() => false),
    ]);
    expect(aborted).toBe(true);
    expect((await running.result).code).not.toBe(0);
    expect(await serverRef("slow", "refs/heads/main")).toBeUndefined();
  });

  it("accepts the pre-receive call only with the hook token and a well-formed push", async () => {
    const call = (authorization: string, body: URLSearchParams | string, type?: string) =>
      fetch(`http://127.0.0.1:${port}${PRE_RECEIVE_PATH}`, {
        method: "POST",
        headers: { authorization, ...(type ? { "content-type": type } : {}) },
        body,
      });
    const push = new URLSearchParams({ app: "shop", cwd: repoOf("shop"), updates: "" });
    expect((await call(`Bearer ${TOKEN}`, push)).status).toBe(401);
    expect((await call("Bearer ", push)).status).toBe(401);
    const bad = await call(`Bearer ${hookToken}`, push);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("updates must list at least one ref update");
    // Only the hook's form: a JSON body is not read as a push.
    const json = await call(`Bearer ${hookToken}`, "{}", "application/json");
    expect(json.status).toBe(415);
  });

  it("pushes refs whose names hold quotes and shell characters, and takes them as they are", async () => {
    const dir = join(root, "work", "shop");
    const ref = 'refs/heads/it\'s-"quoted"-$(>pwned)-`id`;&|<>';
    const pushed = await git(["push", remote("shop"), `HEAD:${ref}`], { cwd: dir, env });
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushes.at(-1)?.updates.map((u) => u.ref)).toEqual([ref]);
    expect(await serverRef("shop", ref)).toBe(
      await gitOk(["rev-parse", "HEAD"], { cwd: dir, env }),
    );
    expect(existsSync(join(repoOf("shop"), "pwned"))).toBe(false);
  });
});
