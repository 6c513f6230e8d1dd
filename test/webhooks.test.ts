import type { ChildProcess } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pruneBuildCacheByToken } from "./support/build-cache.js";
import { ensureTestImage, testDocker } from "./support/busybox-image.js";
import { gitOk, isolatedGitEnv } from "./support/git-cli.js";
import {
  commitFiles,
  initRepo,
  listRuns,
  registryTags,
  removeAppImages,
  smallApp,
  waitForRun,
} from "./support/pipeline-app.js";
import {
  createSandbox,
  destroySandbox,
  type SkiffSandbox,
  skiff,
  startForegroundServer,
} from "./support/skiff-harness.js";

/**
 * Push webhooks from GitHub, GitLab and Gitea against a real Skiff server:
 * the app's repository is a local bare repository (a file:// URL), the
 * deliveries are signed as each forge documents it, and a verified push to
 * the deploy branch runs the whole pipeline on the commit Skiff fetched.
 * GitHub: "Validating webhook deliveries" (X-Hub-Signature-256: sha256=HMAC
 * hex of the raw body); Gitea: X-Gitea-Signature (the bare HMAC hex); GitLab:
 * X-Gitlab-Token carries the secret itself, X-Gitlab-Event: Push Hook.
 */

const app = `wh${randomBytes(3).toString("hex")}`;

type Forge = "github" | "gitlab" | "gitea";

function hmacHex(secret: string, body: string): string {
  return createHmac("sha256", secret).update(body).digest("hex");
}

/** A push event as GitHub sends it (Gitea's is the same shape; GitLab's has ref and after too). */
function pushPayload(ref: string, after: string, before = "0".repeat(40)): string {
  return JSON.stringify({
    ref,
    before,
    after,
    // A forge's payload names its own clone URL; Skiff must fetch from the
    // app's configured repository instead.
    repository: {
      name: "shop",
      full_name: "example/shop",
      clone_url: "https://forge.invalid/example/shop.git",
    },
    pusher: { name: "test", email: "test@example.com" },
    head_commit: { id: after, message: "a change" },
  });
}

describe("push webhooks", () => {
  let sandbox: SkiffSandbox;
  let server: ChildProcess;
  let root: string;
  let env: NodeJS.ProcessEnv;
  let bare: string;
  let work: string;
  let first: string;
  let secret: string;
  let urls: Record<Forge, string>;
  const docker = testDocker();

  beforeAll(async () => {
    await ensureTestImage(docker);
    sandbox = await createSandbox();
    server = await startForegroundServer(sandbox);
    root = mkdtempSync(join(tmpdir(), "skiff-webhooks-"));
    env = isolatedGitEnv(join(root, "home"));

    // The app's repository, as a forge would hold it.
    bare = join(root, "shop.git");
    await gitOk(["init", "--quiet", "--bare", "--initial-branch=main", bare], { cwd: root, env });
    work = join(root, "work");
    first = await initRepo(work, smallApp(app, { test: "" }), env);
    await gitOk(["push", "--quiet", bare, "main"], { cwd: work, env });

    expect((await skiff(sandbox, ["apps:create", app])).code).toBe(0);
    const set = await skiff(sandbox, ["apps:set", app, `repo=file://${bare}`, "branch=main"]);
    expect(set.code, set.stderr).toBe(0);
    const webhook = await skiff(sandbox, ["apps:webhook", app, "--json"]);
    expect(webhook.code, webhook.stderr).toBe(0);
    ({ secret, urls } = JSON.parse(webhook.stdout) as {
      secret: string;
      urls: Record<Forge, string>;
    });
  });

  afterAll(async () => {
    await removeAppImages(docker, `127.0.0.1:${sandbox?.registryPort}`, app).catch(() => {});
    await pruneBuildCacheByToken(docker, app).catch(() => {});
    if (sandbox) await destroySandbox(sandbox, server);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  /** POSTs `body` to a webhook URL with `headers`; returns the status and the parsed answer. */
  async function deliver(url: string, body: string, headers: Record<string, string>) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  function github(body: string, event = "push", key = secret): Record<string, string> {
    return {
      "x-github-event": event,
      "x-github-delivery": randomBytes(8).toString("hex"),
      "x-hub-signature-256": `sha256=${hmacHex(key, body)}`,
    };
  }

  async function runCount(): Promise<number> {
    return (await listRuns(sandbox, app)).length;
  }

  it("gives the URLs and secret to configure in each forge", () => {
    expect(urls).toEqual({
      github: `${sandbox.apiUrl}/hooks/github/${app}`,
      gitlab: `${sandbox.apiUrl}/hooks/gitlab/${app}`,
      gitea: `${sandbox.apiUrl}/hooks/gitea/${app}`,
    });
    expect(secret.length).toBeGreaterThanOrEqual(20);
  });

  it("runs the pipeline on a signed GitHub push, with the commit fetched from the app's repository", async () => {
    const body = pushPayload("refs/heads/main", first);
    const answer = await deliver(urls.github, body, github(body));
    expect(answer).toEqual({ status: 202, body: { accepted: true, run: 1 } });

    const run = await waitForRun(sandbox, app, 1);
    expect(run).toMatchObject({
      status: "succeeded",
      trigger: "webhook:github",
      ref: "refs/heads/main",
      commit: first,
      releaseNumber: 1,
    });
    expect(await registryTags(sandbox.registryUrl, `${app}/web`)).toEqual(
      [first.slice(0, 12), "r1"].sort(),
    );
    const log = await skiff(sandbox, ["runs:logs", app, "1"]);
    expect(log.stdout).toContain(`fetching main from file://${bare}`);
    expect(log.stdout).not.toContain("forge.invalid");
  });

  it("answers 401 and starts nothing when the signature is forged, covers another body or is missing", async () => {
    const before = await runCount();
    const body = pushPayload("refs/heads/main", first);

    const forged = await deliver(urls.github, body, github(body, "push", "not-the-secret"));
    expect(forged.status).toBe(401);
    expect(JSON.stringify(forged.body)).toContain("could not be verified");

    // A signature copied from another delivery does not cover a changed body.
    const other = pushPayload("refs/heads/main", "f".repeat(40));
    expect((await deliver(urls.github, other, github(body))).status).toBe(401);

    const { "x-hub-signature-256": _signature, ...unsigned } = github(body);
    const missing = await deliver(urls.github, body, unsigned);
    expect(missing.status).toBe(401);
    expect(JSON.stringify(missing.body)).toContain("X-Hub-Signature-256");

    const wrongToken = await deliver(urls.gitlab, body, {
      "x-gitlab-event": "Push Hook",
      "x-gitlab-token": "not-the-secret",
    });
    expect(wrongToken.status).toBe(401);
    const wrongGitea = await deliver(urls.gitea, body, {
      "x-gitea-event": "push",
      "x-gitea-signature": hmacHex("not-the-secret", body),
    });
    expect(wrongGitea.status).toBe(401);

    // An app that does not exist gets the same answer as a bad signature.
    const unknown = await deliver(`${sandbox.apiUrl}/hooks/github/no-such-app`, body, github(body));
    expect(unknown.status).toBe(401);

    expect(await runCount()).toBe(before);
  });

  it("runs on a GitLab push that carries the secret as X-Gitlab-Token", async () => {
    const body = pushPayload("refs/heads/main", first);
    const answer = await deliver(urls.gitlab, body, {
      "x-gitlab-event": "Push Hook",
      "x-gitlab-token": secret,
    });
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ accepted: true, run: expect.any(Number) });
    const run = await waitForRun(sandbox, app, answer.body.run as number);
    expect(run).toMatchObject({ status: "succeeded", trigger: "webhook:gitlab", commit: first });
  });

  it("runs on a Gitea push signed in X-Gitea-Signature, building the new commit", async () => {
    const second = await commitFiles(
      work,
      { "index.html": `<h1>${app}</h1>\n<p>version 2</p>\n` },
      "second",
      env,
    );
    await gitOk(["push", "--quiet", bare, "main"], { cwd: work, env });
    const body = pushPayload("refs/heads/main", second, first);
    const answer = await deliver(urls.gitea, body, {
      "x-gitea-event": "push",
      "x-gitea-delivery": randomBytes(8).toString("hex"),
      "x-gitea-signature": hmacHex(secret, body),
    });
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ accepted: true, run: expect.any(Number) });
    const run = await waitForRun(sandbox, app, answer.body.run as number);
    expect(run).toMatchObject({ status: "succeeded", trigger: "webhook:gitea", commit: second });
    expect(await registryTags(sandbox.registryUrl, `${app}/web`)).toContain(second.slice(0, 12));
  });

  it("fails the run, saying why, when the commit is not on the branch", async () => {
    const missing = "e".repeat(40);
    const body = pushPayload("refs/heads/main", missing);
    const answer = await deliver(urls.github, body, github(body));
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ accepted: true });
    const run = await waitForRun(sandbox, app, answer.body.run as number);
    expect(run.status).toBe("failed");
    expect(run.reason).toContain(`commit ${missing.slice(0, 12)} is not on main`);
    expect(run.releaseNumber).toBeUndefined();
  });

  it("accepts without a run a push to another branch and an event that is not a push", async () => {
    const before = await runCount();
    const body = pushPayload("refs/heads/feature", first);
    const branch = await deliver(urls.github, body, github(body));
    expect(branch.status).toBe(202);
    expect(branch.body).toMatchObject({ accepted: false });
    expect(branch.body.reason).toContain("refs/heads/feature is not the deploy branch (main)");

    const ping = JSON.stringify({ zen: "Keep it logically awesome.", hook_id: 1 });
    const pinged = await deliver(urls.github, ping, github(ping, "ping"));
    expect(pinged.status).toBe(202);
    expect(pinged.body).toMatchObject({ accepted: false });

    expect(await runCount()).toBe(before);
  });

  it("answers 404 for a forge it does not know", async () => {
    const body = pushPayload("refs/heads/main", first);
    const answer = await deliver(`${sandbox.apiUrl}/hooks/bitbucket/${app}`, body, github(body));
    expect(answer.status).toBe(404);
    expect(JSON.stringify(answer.body)).toContain("/hooks/github|gitlab|gitea/APP");
  });
});
