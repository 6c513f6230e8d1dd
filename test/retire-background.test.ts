import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { instanceId, LABELS } from "../src/docker/engine.js";
import { ensureTestImage, TEST_IMAGE, testDocker } from "./support/busybox-image.js";
import { getThroughEdge } from "./support/deploy-app.js";
import { type GitResult, isolatedGitEnv } from "./support/git-cli.js";
import { commitFiles, gitOutput, initRepo, pushToSandbox } from "./support/pipeline-app.js";
import {
  createSandbox,
  destroySandbox,
  type SkiffSandbox,
  skiff,
  startForegroundServer,
  waitFor,
} from "./support/skiff-harness.js";

/**
 * A server whose PID 1 ignores SIGTERM holds its container for the whole
 * stop_grace_period. The push must not wait for that: it returns once the
 * new release is live, while the old replica stops in the background; and a
 * control plane killed in between leaves nothing behind, because the
 * reconciler removes the old replica when it starts again.
 */

const app = `rb${randomBytes(3).toString("hex")}`;
const GRACE_S = 20;

function files(version: string): Record<string, string> {
  return {
    "compose.yaml": [
      "services:",
      "  web:",
      "    build: .",
      // sh ignores TERM, and httpd inherits that: only SIGKILL ends them.
      `    command: ["sh", "-c", "trap '' TERM; httpd -f -p 8080 -h /www & wait"]`,
      `    stop_grace_period: ${GRACE_S}s`,
      "    x-skiff: { port: 8080, health: { path: /, interval: 250ms, timeout: 15s } }",
      "",
    ].join("\n"),
    Dockerfile: `FROM ${TEST_IMAGE}\nCOPY index.html /www/index.html\n`,
    "index.html": `${version}\n`,
  };
}

describe("old replicas stop in the background", () => {
  let sandbox: SkiffSandbox;
  let server: ChildProcess;
  let root: string;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const docker = testDocker();

  beforeAll(async () => {
    await ensureTestImage(docker);
    sandbox = await createSandbox();
    server = await startForegroundServer(sandbox);
    root = mkdtempSync(join(tmpdir(), "skiff-retire-"));
    env = isolatedGitEnv(join(root, "home"));
    dir = join(root, app);
    expect((await skiff(sandbox, ["apps:create", app])).code).toBe(0);
    await initRepo(dir, files("v1"), env);
    const first = await push();
    expect(first.code, gitOutput(first)).toBe(0);
  });

  afterAll(async () => {
    if (sandbox) await destroySandbox(sandbox, server);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  function push(): Promise<GitResult> {
    return pushToSandbox(sandbox, app, dir, env);
  }

  /** The app's containers by release, straight from Docker. */
  async function releasesRunning(): Promise<string[]> {
    const containers = await docker.listContainers({
      all: true,
      filters: {
        label: [`${LABELS.instance}=${instanceId(sandbox.home)}`, `${LABELS.app}=${app}`],
      },
    });
    return containers.map((c) => c.Labels[LABELS.release] as string).sort();
  }

  it("returns once the release is live, while the old replica runs out its grace period", async () => {
    await commitFiles(dir, files("v2"), "v2", env);
    const result = await push();
    expect(result.code, gitOutput(result)).toBe(0);
    expect(gitOutput(result)).toContain("1 old replica(s) stop in the background");
    // Had the push waited for the stop, r1 would be gone by now: it ignores SIGTERM.
    expect(await releasesRunning()).toEqual(["1", "2"]);
    const ps = JSON.parse((await skiff(sandbox, ["ps", app, "--json"])).stdout) as
      | { release: number; state: string }[]
      | { replicas: { release: number; state: string }[] };
    const rows = Array.isArray(ps) ? ps : ps.replicas;
    expect(rows.map((r) => [r.release, r.state]).sort()).toEqual([
      [1, "stopping"],
      [2, "running"],
    ]);
    expect(await getThroughEdge(sandbox.edgePort, `${app}.localhost`)).toEqual({
      status: 200,
      body: "v2\n",
    });
    await waitFor(
      "r1 to be gone after its grace period",
      async () => {
        return (await releasesRunning()).join() === "2";
      },
      (GRACE_S + 15) * 1000,
    );
  });

  it("never runs a stateful service twice, even while its old replica is still stopping", async () => {
    const store = `${app}-store`;
    expect((await skiff(sandbox, ["apps:create", store])).code).toBe(0);
    const storeDir = join(root, store);
    await initRepo(
      storeDir,
      {
        "compose.yaml": [
          "services:",
          "  store:",
          `    image: ${TEST_IMAGE}`,
          `    command: ["sh", "-c", "trap '' TERM; sleep 600 & wait"]`,
          `    stop_grace_period: ${GRACE_S}s`,
          "    volumes: [data:/data]",
          "    x-skiff: { health: { stable_for: 1s } }",
          "volumes:",
          "  data: {}",
          "",
        ].join("\n"),
      },
      env,
    );
    const first = await pushToSandbox(sandbox, store, storeDir, env);
    expect(first.code, gitOutput(first)).toBe(0);
    const running = async () =>
      (
        await docker.listContainers({
          filters: {
            label: [`${LABELS.instance}=${instanceId(sandbox.home)}`, `${LABELS.app}=${store}`],
            status: ["running"],
          },
        })
      ).length;
    let most = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        most = Math.max(most, await running());
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    // Down: the replica leaves at once and stops in the background. Up again
    // at once: the new replica must wait until the old one is gone.
    expect((await skiff(sandbox, ["scale", store, "store=0"])).code).toBe(0);
    const up = await skiff(sandbox, ["scale", store, "store=1"]);
    watching = false;
    await watch;
    expect(up.code, up.stderr).toBe(0);
    expect(most).toBe(1);
    expect(await running()).toBe(1);
    const twice = await skiff(sandbox, ["scale", store, "store=2"]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/store is stateful .* at most one replica/);
  });

  it("leaves no old replica behind when the control plane dies before it stopped", async () => {
    await commitFiles(dir, files("v3"), "v3", env);
    const result = await push();
    expect(result.code, gitOutput(result)).toBe(0);
    expect(await releasesRunning()).toEqual(["2", "3"]);
    server.kill("SIGKILL");
    await waitFor(
      "the server to exit",
      () => server.exitCode !== null || server.signalCode !== null,
      10_000,
    );
    server = await startForegroundServer(sandbox);
    await waitFor(
      "the reconciler to remove r2",
      async () => {
        return (await releasesRunning()).join() === "3";
      },
      (GRACE_S + 30) * 1000,
    );
    expect(await getThroughEdge(sandbox.edgePort, `${app}.localhost`)).toEqual({
      status: 200,
      body: "v3\n",
    });
  });
});
