import type { ChildProcess } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { connect } from "node:net";
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
  freePort,
  readToken,
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
function pushPayload(
  ref: string,
  after: string,
  before = "0".repeat(40),
  extra: Record<string, unknown> = {},
): string {
  return JSON.stringify({
    ...extra,
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

/**
 * POSTs `total` bytes over a raw socket as fast as the server takes them;
 * resolves once the server closed the connection, with its status and how
 * much of the body the client got to send. A server that refuses without
 * reading closes while most of a big body is unsent (kernel socket buffers
 * hold a few MB); one that reads the body takes all of it.
 */
function rawPost(
  port: number,
  path: string,
  total: number,
  headers: Record<string, string>,
): Promise<{ status: number | undefined; sent: number }> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let sent = 0;
    let answer = "";
    socket.on("data", (chunk) => {
      answer += chunk.toString("latin1");
    });
    // EPIPE or ECONNRESET: the server closed the connection under the upload, as it should.
    socket.on("error", () => {});
    // The server's FIN follows its whole answer: a client stops sending then.
    socket.on("end", () => socket.destroy());
    socket.on("close", () => {
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1];
      resolve({ status: status ? Number(status) : undefined, sent });
    });
    const head = Object.entries({ host: "127.0.0.1", "content-length": String(total), ...headers })
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join("");
    socket.write(`POST ${path} HTTP/1.1\r\n${head}\r\n`);
    const chunk = Buffer.alloc(64 * 1024, 0x7b);
    const pump = () => {
      while (sent < total && !socket.destroyed) {
        sent += chunk.length;
        if (!socket.write(chunk)) {
          socket.once("drain", pump);
          return;
        }
      }
      if (sent >= total) socket.end();
    };
    pump();
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
    const webhook = await skiff(sandbox, ["apps:webhook", app, "--reveal", "--json"]);
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

  it("gives the URLs and secret to configure in each forge, the secret only when asked to reveal it", async () => {
    expect(urls).toEqual({
      github: `${sandbox.apiUrl}/hooks/github/${app}`,
      gitlab: `${sandbox.apiUrl}/hooks/gitlab/${app}`,
      gitea: `${sandbox.apiUrl}/hooks/gitea/${app}`,
    });
    expect(secret.length).toBeGreaterThanOrEqual(20);

    const again = await skiff(sandbox, ["apps:webhook", app, "--reveal", "--json"]);
    expect(JSON.parse(again.stdout).secret).toBe(secret);
    const json = await skiff(sandbox, ["apps:webhook", app, "--json"]);
    expect(JSON.parse(json.stdout)).toEqual({ urls, hasSecret: true });
    const text = await skiff(sandbox, ["apps:webhook", app]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(urls.github);
    expect(text.stdout).toContain(`skiff apps:webhook ${app} --reveal`);
    expect(text.stdout).not.toContain(secret);
  });

  /** The first delivery exactly as it was sent, for the replays further down. */
  let firstDelivery: { body: string; headers: Record<string, string> };

  it("runs the pipeline on a signed GitHub push, with the commit fetched from the app's repository", async () => {
    const body = pushPayload("refs/heads/main", first);
    firstDelivery = { body, headers: github(body) };
    const answer = await deliver(urls.github, body, firstDelivery.headers);
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

  it("answers a replayed delivery 200 and starts nothing, under its own delivery id or a new one", async () => {
    const before = await runCount();
    const same = await deliver(urls.github, firstDelivery.body, firstDelivery.headers);
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ accepted: false });
    // The signature covers only the body, so a replay may carry any delivery id.
    const renamed = await deliver(urls.github, firstDelivery.body, {
      ...firstDelivery.headers,
      "x-github-delivery": randomBytes(8).toString("hex"),
    });
    expect(renamed.status).toBe(200);
    expect(await runCount()).toBe(before);
  });

  it("runs on a GitLab push that carries the secret as X-Gitlab-Token", async () => {
    // GitLab's push payload has the same ref and after, and its own fields.
    const body = pushPayload("refs/heads/main", first, undefined, { object_kind: "push" });
    const idempotencyKey = randomBytes(8).toString("hex");
    const answer = await deliver(urls.gitlab, body, {
      "x-gitlab-event": "Push Hook",
      "x-gitlab-token": secret,
      "idempotency-key": idempotencyKey,
    });
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ accepted: true, run: expect.any(Number) });
    const run = await waitForRun(sandbox, app, answer.body.run as number);
    expect(run).toMatchObject({ status: "succeeded", trigger: "webhook:gitlab", commit: first });

    // GitLab retries with the same Idempotency-Key.
    const retry = await deliver(urls.gitlab, `${body} `, {
      "x-gitlab-event": "Push Hook",
      "x-gitlab-token": secret,
      "idempotency-key": idempotencyKey,
    });
    expect(retry.status).toBe(200);
    expect((await listRuns(sandbox, app)).at(0)?.number).toBe(run.number);
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

  it("deploys the branch's fetched tip, never an older commit a delivery names, and says so in the run log", async () => {
    // main is at `second` now. A signed delivery naming `first` (delayed,
    // out of order, or replayed with a changed body) must not roll it back.
    const tip = await gitOk(["rev-parse", "main"], { cwd: work, env });
    expect(tip).not.toBe(first);
    for (const named of [first, "e".repeat(40)]) {
      const body = pushPayload("refs/heads/main", named, "0".repeat(40), { note: named });
      const answer = await deliver(urls.github, body, github(body));
      expect(answer.status).toBe(202);
      expect(answer.body).toMatchObject({ accepted: true });
      const run = await waitForRun(sandbox, app, answer.body.run as number);
      expect(run).toMatchObject({ status: "succeeded", commit: tip });
      const log = await skiff(sandbox, ["runs:logs", app, String(run.number)]);
      expect(log.stdout).toContain(
        `the delivery named commit ${named.slice(0, 12)}, but main is at ${tip.slice(0, 12)} after the fetch: deploying ${tip.slice(0, 12)}`,
      );
    }
    const releases = await skiff(sandbox, ["releases", app, "--json"]);
    const { releases: list, live } = JSON.parse(releases.stdout) as {
      releases: { number: number; commit?: string }[];
      live?: number;
    };
    expect(list.find((r) => r.number === live)?.commit).toBe(tip);
  });

  it("answers 20 concurrent 24 MB deliveries to unknown apps without reading their bodies", async () => {
    const total = 24 * 1024 * 1024;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        rawPost(sandbox.apiPort, `/hooks/github/no-such-app-${i}`, total, {
          "content-type": "application/json",
          "x-github-event": "push",
          "x-hub-signature-256": `sha256=${"0".repeat(64)}`,
        }),
      ),
    );
    for (const result of results) {
      expect(result.status).toBe(401);
      // The server answered and closed the connection with most of the body
      // still unsent: it never read it.
      expect(result.sent).toBeLessThan(total / 2);
    }
    // The server still serves.
    expect((await fetch(`${sandbox.apiUrl}/api/v1/healthz`)).status).toBe(200);
  });

  it("never shows the credentials of a repository URL, in answers, the CLI or a failed fetch", async () => {
    const other = `${app}-creds`;
    expect((await skiff(sandbox, ["apps:create", other])).code).toBe(0);
    const closed = await freePort();
    const token = `tok${randomBytes(6).toString("hex")}`;
    const repo = `http://deploy:${token}@127.0.0.1:${closed}/shop.git`;
    const masked = `http://deploy:***@127.0.0.1:${closed}/shop.git`;
    const set = await skiff(sandbox, ["apps:set", other, `repo=${repo}`]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain(masked);
    const info = await skiff(sandbox, ["apps:info", other, "--json"]);
    expect(JSON.parse(info.stdout).repoUrl).toBe(masked);
    expect((await skiff(sandbox, ["apps:info", other])).stdout).toContain(masked);
    const listed = await fetch(`${sandbox.apiUrl}/api/v1/apps`, {
      headers: { authorization: `Bearer ${readToken(sandbox)}` },
    });
    expect(await listed.text()).not.toContain(token);
    const invalid = await skiff(sandbox, ["apps:set", other, `repo=-x://u:${token}@h/r`]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr + invalid.stdout).not.toContain(token);

    const key = JSON.parse(
      (await skiff(sandbox, ["apps:webhook", other, "--reveal", "--json"])).stdout,
    ).secret as string;
    const body = pushPayload("refs/heads/main", first);
    const answer = await deliver(
      `${sandbox.apiUrl}/hooks/github/${other}`,
      body,
      github(body, "push", key),
    );
    expect(answer.status).toBe(202);
    const run = await waitForRun(sandbox, other, answer.body.run as number);
    expect(run.status).toBe("failed");
    expect(run.reason).toContain(`could not fetch main from ${masked}`);
    const log = await skiff(sandbox, ["runs:logs", other, String(run.number)]);
    expect(log.stdout).toContain(masked);
    expect(`${run.reason}\n${log.stdout}`).not.toContain(token);
    expect((await skiff(sandbox, ["apps:destroy", other, "--confirm", other])).code).toBe(0);
  });

  it("keeps $SKIFF_HOME, the database and the run logs readable by the owner only", () => {
    const mode = (path: string) => statSync(path).mode & 0o777;
    expect(mode(sandbox.home)).toBe(0o700);
    const db = join(sandbox.home, "skiff.db");
    expect([mode(db), mode(`${db}-wal`), mode(`${db}-shm`)]).toEqual([0o600, 0o600, 0o600]);
    const run = join(sandbox.home, "runs", app, "1");
    expect(mode(run)).toBe(0o700);
    expect(mode(join(run, "events.jsonl"))).toBe(0o600);
    expect(mode(join(run, "source.log"))).toBe(0o600);
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
