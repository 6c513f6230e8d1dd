import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appNetworkName, instanceId, LABELS } from "../src/docker/engine.js";
import { ensureTestImage, TEST_IMAGE, testDocker } from "./support/busybox-image.js";
import { getThroughEdge, steadyTraffic, twoServiceApp } from "./support/deploy-app.js";
import { type GitResult, git, gitOk, isolatedGitEnv, startGit } from "./support/git-cli.js";
import { listRuns, removeAppImages, writeFiles } from "./support/pipeline-app.js";
import {
  createSandbox,
  destroySandbox,
  readToken,
  type SkiffSandbox,
  skiff,
  startForegroundServer,
  waitFor,
} from "./support/skiff-harness.js";

/**
 * Deploys through `git push` to a real server: containers on the real
 * Docker Engine, images from the server's registry, traffic through its
 * HAProxy edge. Each case has its own app; everything the server started
 * carries its instance label and is removed with the sandbox.
 */

const prefix = `dp${randomBytes(3).toString("hex")}`;

interface PsRow {
  service: string;
  replica: number;
  release: number;
  state: string;
  health?: string;
}

function progress(result: GitResult): string[] {
  return result.lines
    .filter((line) => line.text.startsWith("remote: "))
    .map((line) => line.text.slice("remote: ".length).trim());
}

describe("deploys: health-gated rollouts behind the edge, rollback, scale, self-healing", () => {
  let sandbox: SkiffSandbox;
  let server: ChildProcess;
  let token: string;
  let root: string;
  let env: NodeJS.ProcessEnv;
  const docker = testDocker();
  const apps: string[] = [];

  beforeAll(async () => {
    await ensureTestImage(docker);
    sandbox = await createSandbox();
    server = await startForegroundServer(sandbox);
    token = readToken(sandbox);
    root = mkdtempSync(join(tmpdir(), "skiff-deploy-"));
    env = isolatedGitEnv(join(root, "home"));
  });

  afterAll(async () => {
    if (sandbox) await destroySandbox(sandbox, server);
    for (const app of apps) {
      await removeAppImages(docker, `127.0.0.1:${sandbox.registryPort}`, app).catch(() => {});
    }
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const host = (app: string) => `${app}.localhost`;
  const remote = (app: string) => `http://x:${token}@127.0.0.1:${sandbox.apiPort}/git/${app}.git`;

  async function commit(dir: string, files: Record<string, string>, message: string) {
    writeFiles(dir, files);
    for (const script of ["api", "health"]) chmodSync(join(dir, "web/www/cgi-bin", script), 0o755);
    await gitOk(["add", "--all"], { cwd: dir, env });
    await gitOk(["commit", "--quiet", "-m", message], { cwd: dir, env });
  }

  async function newApp(name: string, options: Parameters<typeof twoServiceApp>[1] = {}) {
    const app = `${prefix}-${name}`;
    apps.push(app);
    const created = await skiff(sandbox, ["apps:create", app]);
    expect(created.code, created.stderr).toBe(0);
    const dir = join(root, app);
    mkdirSync(dir, { recursive: true });
    await gitOk(["init", "--quiet", "--initial-branch=main"], { cwd: dir, env });
    await commit(dir, twoServiceApp(app, options), "initial");
    return { app, dir };
  }

  const push = (app: string, dir: string) =>
    git(["push", "--progress", remote(app), "main"], { cwd: dir, env });

  async function ps(app: string): Promise<PsRow[]> {
    const result = await skiff(sandbox, ["ps", app, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const parsed = JSON.parse(result.stdout) as PsRow[] | { replicas: PsRow[] };
    return Array.isArray(parsed) ? parsed : parsed.replicas;
  }

  /** Every container of this server's app, straight from Docker. */
  async function containers(app: string) {
    return docker.listContainers({
      all: true,
      filters: {
        label: [`${LABELS.instance}=${instanceId(sandbox.home)}`, `${LABELS.app}=${app}`],
      },
    });
  }

  async function body(app: string, path = "/") {
    const result = await getThroughEdge(sandbox.edgePort, host(app), path);
    return "body" in result ? result.body.trim() : result.error;
  }

  it("deploys a two-service app: web reaches api by name, behind the edge, 2 + 1 replicas", async () => {
    const { app, dir } = await newApp("ok");
    const result = await push(app, dir);
    expect(result.code, result.stderr).toBe(0);
    const lines = progress(result);
    expect(lines).toContain(
      `skiff: release r1 of ${app} is live: http://${app}.localhost:${sandbox.edgePort}/`,
    );
    expect(lines.some((l) => /^\[web\] replica [12] of r1 healthy/.test(l))).toBe(true);
    expect(lines.some((l) => /^\[api\] replica 1 of r1 healthy/.test(l))).toBe(true);

    expect(await body(app)).toBe(`web v1 ${app}`);
    expect(await body(app, "/cgi-bin/api")).toBe(`api ${app}`);
    const rows = await ps(app);
    // api by its Docker healthcheck; web, checked over HTTP, by the edge's check.
    expect(rows.map((r) => [r.service, r.replica, r.release, r.state, r.health]).sort()).toEqual([
      ["api", 1, 1, "running", "healthy"],
      ["web", 1, 1, "running", "healthy"],
      ["web", 2, 1, "running", "healthy"],
    ]);
    // Web ports are published on 127.0.0.1 only.
    for (const c of await containers(app)) {
      for (const port of c.Ports.filter((p) => p.PublicPort)) expect(port.IP).toBe("127.0.0.1");
    }
  });

  it("keeps the old release serving when the new one fails its health check, and the push fails", async () => {
    const { app, dir } = await newApp("unhealthy");
    expect((await push(app, dir)).code).toBe(0);
    const traffic = steadyTraffic(sandbox.edgePort, host(app));
    await commit(dir, twoServiceApp(app, { version: "v2", healthPath: "/missing" }), "v2");
    const result = await push(app, dir);
    const { sent, failures } = await traffic.stop();
    expect(result.code).not.toBe(0);
    const text = progress(result).join("\n");
    expect(text).toMatch(/deploy failed: replica \d of r2: .*404/);
    expect(text).toContain("the previous release keeps serving");
    expect(failures, `${failures.length} of ${sent} requests failed`).toEqual([]);
    expect(await body(app)).toBe(`web v1 ${app}`);
    // Only r1's containers are left.
    expect(new Set((await containers(app)).map((c) => c.Labels[LABELS.release]))).toEqual(
      new Set(["1"]),
    );
    const releases = JSON.parse((await skiff(sandbox, ["releases", app, "--json"])).stdout);
    const list = Array.isArray(releases) ? releases : releases.releases;
    expect(list.map((r: { number: number; status: string }) => [r.number, r.status])).toEqual([
      [2, "failed"],
      [1, "live"],
    ]);
  });

  it("fails fast on a crash-looping container and shows its log", async () => {
    const { app, dir } = await newApp("crash");
    expect((await push(app, dir)).code).toBe(0);
    await commit(
      dir,
      twoServiceApp(app, { version: "v2", webCommand: "echo boom from $HOSTNAME; exit 3" }),
      "crash",
    );
    const result = await push(app, dir);
    expect(result.code).not.toBe(0);
    const text = progress(result).join("\n");
    // The exit is the reason, seen at once, not a health check that timed out.
    expect(text).not.toMatch(/within \d+ s/);
    expect(text).toMatch(/deploy failed: replica \d of r2: (exited with code 3|restarted)/);
    expect(text).toMatch(/\| boom from/);
    expect(await body(app)).toBe(`web v1 ${app}`);
  });

  it("rolls back to an earlier release by digest, as a new release", async () => {
    const { app, dir } = await newApp("rollback");
    expect((await push(app, dir)).code).toBe(0);
    const apiBefore = (await containers(app)).find((c) => c.Labels[LABELS.service] === "api")?.Id;
    await commit(dir, twoServiceApp(app, { version: "v2" }), "v2");
    const v2 = await push(app, dir);
    expect(v2.code).toBe(0);
    expect(await body(app)).toBe(`web v2 ${app}`);
    // Only web changed: api's replica, same image and settings, stays.
    expect(progress(v2)).toContain(
      "[api] unchanged (same image and settings): its 1 running replica(s) stay",
    );
    const apiAfter = (await containers(app)).filter((c) => c.Labels[LABELS.service] === "api");
    expect(apiAfter.map((c) => c.Id)).toEqual([apiBefore]);

    const traffic = steadyTraffic(sandbox.edgePort, host(app));
    const rollback = await skiff(sandbox, ["rollback", app]);
    const { sent, failures } = await traffic.stop();
    expect(rollback.code, rollback.stderr + rollback.stdout).toBe(0);
    expect(failures, `${failures.length} of ${sent} requests failed`).toEqual([]);
    expect(await body(app)).toBe(`web v1 ${app}`);
    const list = JSON.parse((await skiff(sandbox, ["releases", app, "--json"])).stdout);
    const releases = Array.isArray(list) ? list : list.releases;
    expect(releases[0]).toMatchObject({ number: 3, status: "live", rollbackOf: 1 });
    expect(releases[0].images).toEqual(releases[2].images.map((i: object) => ({ ...i })));
  });

  it("scales up and down without dropping a request, and remembers the count", async () => {
    const { app, dir } = await newApp("scale");
    expect((await push(app, dir)).code).toBe(0);
    const traffic = steadyTraffic(sandbox.edgePort, host(app));
    const up = await skiff(sandbox, ["scale", app, "web=3"]);
    expect(up.code, up.stderr).toBe(0);
    expect((await ps(app)).filter((r) => r.service === "web")).toHaveLength(3);
    const down = await skiff(sandbox, ["scale", app, "web=1", "api=1"]);
    expect(down.code, down.stderr).toBe(0);
    const { sent, failures } = await traffic.stop();
    expect(failures, `${failures.length} of ${sent} requests failed`).toEqual([]);
    // The two retired replicas may still be stopping (ps says so); one serves.
    expect(
      (await ps(app)).filter((r) => r.service === "web" && r.state === "running"),
    ).toHaveLength(1);

    // A new release keeps the scaled count.
    await commit(dir, twoServiceApp(app, { version: "v2" }), "v2");
    expect((await push(app, dir)).code).toBe(0);
    expect((await ps(app)).filter((r) => r.service === "web" && r.release === 2)).toHaveLength(1);

    const bad = await skiff(sandbox, ["scale", app, "nosuch=2"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/no service named "nosuch"/);
  });

  it("replaces a killed replica by itself", async () => {
    const { app, dir } = await newApp("heal");
    expect((await push(app, dir)).code).toBe(0);
    const before = (await containers(app)).filter((c) => c.Labels[LABELS.service] === "web");
    expect(before).toHaveLength(2);
    const victim = before[0]?.Id as string;
    const traffic = steadyTraffic(sandbox.edgePort, host(app));
    await docker.getContainer(victim).kill();
    await waitFor(
      "a replacement web replica",
      async () => {
        const all = await containers(app);
        const web = all.filter((c) => c.Labels[LABELS.service] === "web" && c.State === "running");
        // Replaced, and the dead container removed rather than left behind.
        return web.length === 2 && !all.some((c) => c.Id === victim);
      },
      30_000,
    );
    const { sent, failures } = await traffic.stop();
    expect(failures, `${failures.length} of ${sent} requests failed`).toEqual([]);
    const events = await skiff(sandbox, ["events", "--json"]);
    expect(events.stdout).toContain("replaced replica");
  });

  it("moves a replica that is off the app's network (an older Skiff's) onto it, so services find each other again", async () => {
    const { app, dir } = await newApp("offnet");
    expect((await push(app, dir)).code).toBe(0);
    expect(await body(app, "/cgi-bin/api")).toBe(`api ${app}`);
    // What an older Skiff left: api on a network of another name.
    const network = appNetworkName(app, instanceId(sandbox.home));
    const api = (await containers(app)).find((c) => c.Labels[LABELS.service] === "api");
    const legacy = await docker.createNetwork({
      Name: `${network}-legacy`,
      Labels: { [LABELS.instance]: instanceId(sandbox.home), [LABELS.app]: app },
    });
    try {
      await docker.getNetwork(network).disconnect({ Container: api?.Id });
      await legacy.connect({ Container: api?.Id });
      await waitFor(
        "api back on the app's network, as a new replica",
        async () => {
          const now = (await containers(app)).filter((c) => c.Labels[LABELS.service] === "api");
          return (
            now.length === 1 &&
            now[0]?.Id !== api?.Id &&
            Object.keys(now[0]?.NetworkSettings.Networks ?? {}).includes(network)
          );
        },
        60_000,
      );
      await waitFor(
        "web reaching api by name again",
        async () => (await body(app, "/cgi-bin/api")) === `api ${app}`,
        30_000,
      );
    } finally {
      await legacy.remove().catch(() => {});
    }
  });

  it("replaces a replica whose HTTP health check keeps failing, with no request lost", async () => {
    const { app, dir } = await newApp("sick", { healthPath: "/cgi-bin/health" });
    expect((await push(app, dir)).code).toBe(0);
    const web = (await containers(app)).filter((c) => c.Labels[LABELS.service] === "web");
    const sick = web[0]?.Id as string;
    const traffic = steadyTraffic(sandbox.edgePort, host(app));
    const exec = await docker.getContainer(sick).exec({ Cmd: ["sh", "-c", "echo > /sick"] });
    await exec.start({ Detach: true });
    await waitFor(
      "the sick replica to be replaced",
      async () => {
        const all = await containers(app);
        const running = all.filter(
          (c) => c.Labels[LABELS.service] === "web" && c.State === "running",
        );
        return running.length === 2 && !all.some((c) => c.Id === sick);
      },
      45_000,
    );
    const { sent, failures } = await traffic.stop();
    expect(failures, `${failures.length} of ${sent} requests failed`).toEqual([]);
  });

  it("restarts a service replica by replica without dropping a request", async () => {
    const { app, dir } = await newApp("restart");
    expect((await push(app, dir)).code).toBe(0);
    const before = (await containers(app)).map((c) => c.Id);
    const traffic = steadyTraffic(sandbox.edgePort, host(app));
    const restarted = await skiff(sandbox, ["restart", app, "web"]);
    const { sent, failures } = await traffic.stop();
    expect(restarted.code, restarted.stderr).toBe(0);
    expect(failures, `${failures.length} of ${sent} requests failed`).toEqual([]);
    // The replaced replicas leave the edge at once and stop in the background.
    const webOf = async () =>
      (await containers(app)).filter((c) => c.Labels[LABELS.service] === "web");
    await waitFor(
      "the replaced web replicas to be gone",
      async () => (await webOf()).length === 2,
      30_000,
    );
    const after = await containers(app);
    const web = await webOf();
    expect(web).toHaveLength(2);
    expect(web.some((c) => before.includes(c.Id))).toBe(false);
    // api was not restarted.
    const api = after.filter((c) => c.Labels[LABELS.service] === "api");
    expect(api.map((c) => c.Id)).toEqual(before.filter((id) => api.some((c) => c.Id === id)));
    expect(api).toHaveLength(1);
    expect(before).toContain(api[0]?.Id);
  });

  it("converges to one release with no orphans after the server is killed mid-deploy", async () => {
    const { app, dir } = await newApp("crashserver");
    expect((await push(app, dir)).code).toBe(0);
    const traffic = steadyTraffic(sandbox.edgePort, host(app));
    // v2's web takes 3 s to start answering, so the kill lands mid-rollout.
    await commit(
      dir,
      twoServiceApp(app, { version: "v2", webCommand: "sleep 3; exec httpd -f -p 8080 -h /www" }),
      "slow v2",
    );
    const pushing = startGit(["push", "--progress", remote(app), "main"], { cwd: dir, env });
    await waitFor(
      "the deploy to start web replicas",
      () => pushing.lines.some((l) => l.text.includes("[web] starting")),
      60_000,
    );
    server.kill("SIGKILL");
    await pushing.result;
    server = await startForegroundServer(sandbox);

    await waitFor(
      "the app to converge",
      async () => {
        const all = await containers(app);
        const releases = new Set(all.map((c) => c.Labels[LABELS.release]));
        return releases.size === 1 && all.length === 3 && all.every((c) => c.State === "running");
      },
      60_000,
    );
    await sleep(1000);
    const { sent, failures } = await traffic.stop();
    expect(failures, `${failures.length} of ${sent} requests failed`).toEqual([]);
    const all = await containers(app);
    expect(all).toHaveLength(3);
    const runs = await listRuns(sandbox, app);
    expect(runs.find((r) => r.number === 2)?.status).toBe("interrupted");
    expect(await body(app)).toBe(`web v1 ${app}`);
  });

  it("replaces a stateful service stop-first, on the same volume", async () => {
    const app = `${prefix}-stateful`;
    apps.push(app);
    expect((await skiff(sandbox, ["apps:create", app])).code).toBe(0);
    const dir = join(root, app);
    mkdirSync(dir, { recursive: true });
    await gitOk(["init", "--quiet", "--initial-branch=main"], { cwd: dir, env });
    const files = (version: string) => ({
      "compose.yaml": [
        "services:",
        "  store:",
        "    build: .",
        "    environment:",
        `      VERSION: ${version}`,
        // Writes its version into the volume, then stays up.
        `    command: ["sh", "-c", "echo $$VERSION >> /data/log; exec sleep 600"]`,
        "    stop_grace_period: 1s",
        "    volumes: [data:/data]",
        "    x-skiff:",
        "      health: { stable_for: 1s }",
        "volumes:",
        "  data: {}",
        "",
      ].join("\n"),
      Dockerfile: `FROM ${TEST_IMAGE}\n`,
    });
    writeFiles(dir, files("v1"));
    await gitOk(["add", "--all"], { cwd: dir, env });
    await gitOk(["commit", "--quiet", "-m", "v1"], { cwd: dir, env });
    expect((await push(app, dir)).code).toBe(0);
    writeFiles(dir, files("v2"));
    await gitOk(["commit", "--quiet", "-am", "v2"], { cwd: dir, env });
    const second = await push(app, dir);
    expect(second.code, second.stderr).toBe(0);
    expect(progress(second)).toContain(
      "[store] stopping 1 old replica(s) first: its volumes are never shared",
    );
    const running = (await containers(app)).filter((c) => c.State === "running");
    expect(running).toHaveLength(1);
    const exec = await docker
      .getContainer(running[0]?.Id as string)
      .exec({ Cmd: ["cat", "/data/log"], AttachStdout: true });
    const stream = await exec.start({});
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    // Docker's multiplexed stream: the text is in the frames' payloads.
    expect(Buffer.concat(chunks).toString("utf8")).toMatch(/v1\n[\s\S]*v2\n/);
  });

  it("puts every route back after the edge restarts", async () => {
    const { app, dir } = await newApp("edge");
    expect((await push(app, dir)).code).toBe(0);
    expect(await body(app)).toBe(`web v1 ${app}`);
    const pid = Number(
      (await import("node:fs")).readFileSync(join(sandbox.home, "run", "edge.pid"), "utf8"),
    );
    process.kill(pid, "SIGKILL");
    await waitFor(
      "the edge to serve the app again",
      async () => (await body(app)) === `web v1 ${app}`,
      30_000,
    );
  });
});
