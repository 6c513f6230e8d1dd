import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTestImage, testDocker } from "./support/busybox-image.js";
import {
  createSandbox,
  destroySandbox,
  type SkiffSandbox,
  skiff,
  startForegroundServer,
} from "./support/skiff-harness.js";

describe("skiff deploy: a working tree uploaded into the pipeline", () => {
  let sandbox: SkiffSandbox;
  let server: ChildProcess;
  const dir = mkdtempSync(join(tmpdir(), "skiff-upload-"));
  const docker = testDocker();

  beforeAll(async () => {
    await ensureTestImage(docker);
    sandbox = await createSandbox();
    server = await startForegroundServer(sandbox);
    expect((await skiff(sandbox, ["apps:create", "upl"])).code).toBe(0);
  });
  afterAll(async () => {
    await destroySandbox(sandbox, server);
    for (const tag of ["r1", "r2"]) {
      await docker
        .getImage(`127.0.0.1:${sandbox.registryPort}/upl/web:${tag}`)
        .remove({ force: true })
        .catch(() => {});
    }
    rmSync(dir, { recursive: true, force: true });
  });

  function writeApp(root: string, run: string) {
    mkdirSync(join(root, ".git"), { recursive: true });
    writeFileSync(join(root, ".git", "HEAD"), "ref: refs/heads/main\n");
    writeFileSync(join(root, "secret.txt"), "do not ship\n");
    writeFileSync(join(root, ".dockerignore"), "secret.txt\n");
    writeFileSync(join(root, "index.html"), "hello\n");
    writeFileSync(
      join(root, "Dockerfile"),
      `FROM skiff-test/busybox:1\nCOPY . /app\nRUN ${run}\nCMD ["httpd", "-f", "-p", "8000", "-h", "/app"]\n`,
    );
    writeFileSync(
      join(root, "compose.yaml"),
      "services:\n  web:\n    build: .\n    x-skiff:\n      port: 8000\n",
    );
  }

  it("runs the same stages as a push, leaves out what .dockerignore and .git hold, and follows the run", async () => {
    const app = join(dir, "ok");
    writeApp(app, "test ! -e /app/secret.txt && test ! -e /app/.git && test -f /app/index.html");
    const result = await skiff(sandbox, ["deploy", app, "--app", "upl"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("uploaded working tree (no commit)");
    expect(result.stdout).toMatch(/-----> build succeeded/);
    expect(result.stdout).toContain("=====> run succeeded");
    const runs = JSON.parse((await skiff(sandbox, ["runs", "upl", "--json"])).stdout);
    expect(runs[0]).toMatchObject({ trigger: "upload", status: "succeeded", releaseNumber: 1 });
  });

  it("exits 1 with the failing step when the build fails", async () => {
    const app = join(dir, "bad");
    writeApp(app, "test -e /app/secret.txt");
    const result = await skiff(sandbox, ["deploy", app, "--app", "upl"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /=====> run failed: build failed: web: step \[3\/3\] RUN test -e \/app\/secret.txt failed with exit code 1/,
    );
  });

  it("refuses an app that does not exist", async () => {
    const result = await skiff(sandbox, ["deploy", join(dir, "ok"), "--app", "nope"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no app named "nope"');
  });
});
