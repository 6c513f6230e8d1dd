import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pushImage } from "../src/docker/image-push.js";
import { RegistryClient } from "../src/registry/client.js";
import { ensureTestImage, TEST_IMAGE, testDocker } from "./support/busybox-image.js";
import { getThroughEdge } from "./support/deploy-app.js";
import { type GitResult, gitOk, isolatedGitEnv } from "./support/git-cli.js";
import {
  commitFiles,
  gitOutput,
  manifestDigest,
  pushToSandbox,
  writeFiles,
} from "./support/pipeline-app.js";
import {
  createSandbox,
  destroySandbox,
  type SkiffSandbox,
  skiff,
  startForegroundServer,
  waitFor,
} from "./support/skiff-harness.js";

/**
 * Services with `image:` and no `build:` (every database in a Compose file)
 * deploy next to a built web service: at publish the image is copied into
 * the app's repository in Skiff's registry and the release pins its digest,
 * so the deploy pulls `repository@digest`, as for a built image. One image
 * is only on the Docker host (`docker import`ed); another is only in Skiff's
 * registry under bases/, as `skiff bases:build` leaves one.
 */

const app = `is${randomBytes(3).toString("hex")}`;

function spec(dbImage: string, version: string): Record<string, string> {
  return {
    "compose.yaml": [
      "services:",
      "  web:",
      "    build: ./web",
      "    depends_on: { db: { condition: service_healthy } }",
      "    x-skiff: { port: 8080, health: { path: /, interval: 250ms, timeout: 15s } }",
      "  db:",
      `    image: ${dbImage}`,
      '    command: ["sh", "-c", "[ -f /data/v ] || echo stored-once > /data/v; exec httpd -f -p 7000 -h /data"]',
      "    volumes: [dbdata:/data]",
      "    healthcheck:",
      '      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:7000/v"]',
      "      interval: 500ms",
      "      retries: 20",
      "volumes:",
      "  dbdata: {}",
      "",
    ].join("\n"),
    "web/Dockerfile": `FROM ${TEST_IMAGE}\nCOPY www /www\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n`,
    "web/www/index.html": `web ${version}\n`,
    "web/www/cgi-bin/db":
      '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\nwget -q -O - http://db:7000/v\n',
  };
}

describe("image: services", () => {
  let sandbox: SkiffSandbox;
  let server: ChildProcess;
  let root: string;
  let env: NodeJS.ProcessEnv;
  let dir: string;
  let registryAddress: string;
  const docker = testDocker();

  beforeAll(async () => {
    await ensureTestImage(docker);
    sandbox = await createSandbox();
    server = await startForegroundServer(sandbox);
    registryAddress = `127.0.0.1:${sandbox.registryPort}`;
    root = mkdtempSync(join(tmpdir(), "skiff-image-services-"));
    env = isolatedGitEnv(join(root, "home"));
    dir = join(root, app);
    expect((await skiff(sandbox, ["apps:create", app])).code).toBe(0);
  });

  afterAll(async () => {
    if (sandbox) await destroySandbox(sandbox, server);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  /** Commits `files` (the CGI script executable, as httpd wants it). */
  async function commit(files: Record<string, string>, message: string): Promise<void> {
    writeFiles(dir, files);
    chmodSync(join(dir, "web/www/cgi-bin/db"), 0o755);
    await commitFiles(dir, {}, message, env);
  }

  function push(): Promise<GitResult> {
    return pushToSandbox(sandbox, app, dir, env);
  }

  async function dbReplicaImage(): Promise<string | undefined> {
    const [db] = await docker.listContainers({
      filters: { label: [`skiff.app=${app}`, "skiff.service=db"] },
    });
    return db?.Image;
  }

  it("pins an image from the Docker host by its digest in the app's repository", async () => {
    mkdirSync(dir, { recursive: true });
    await gitOk(["init", "--quiet", "--initial-branch=main"], { cwd: dir, env });
    await commit(spec(TEST_IMAGE, "v1"), "v1");
    const result = await push();
    expect(result.code, gitOutput(result)).toBe(0);
    const digest = await manifestDigest(sandbox.registryUrl, `${app}/db`, "r1");
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const { releases } = JSON.parse((await skiff(sandbox, ["releases", app, "--json"])).stdout) as {
      releases: { images: { service: string; image: string; digest: string }[] }[];
    };
    expect(releases[0]?.images.find((i) => i.service === "db")).toMatchObject({
      image: `${registryAddress}/${app}/db:r1`,
      digest,
    });
    expect(await dbReplicaImage()).toBe(`${registryAddress}/${app}/db@${digest}`);
    const page = await getThroughEdge(sandbox.edgePort, `${app}.localhost`, "/cgi-bin/db");
    expect(page).toEqual({ status: 200, body: "stored-once\n" });
  });

  it("reuses the pinned image when a push changes only the web service", async () => {
    await commit({ "web/www/index.html": "web v2\n" }, "v2");
    const result = await push();
    expect(result.code, gitOutput(result)).toBe(0);
    expect(gitOutput(result)).toMatch(/\[db\] skiff-test\/busybox:1 is unchanged since r1/);
    const first = await manifestDigest(sandbox.registryUrl, `${app}/db`, "r1");
    expect(await manifestDigest(sandbox.registryUrl, `${app}/db`, "r2")).toBe(first);
  });

  it("copies an image that is only in Skiff's registry, such as a base image", async () => {
    const base = `${registryAddress}/bases/${app}-busybox`;
    await docker.getImage(TEST_IMAGE).tag({ repo: base, tag: "1" });
    const registry = new RegistryClient({ url: sandbox.registryUrl });
    await pushImage(docker, { image: base, tag: "1", registry });
    await docker.getImage(`${base}:1`).remove();
    await commit(spec(`${base}:1`, "v3"), "db from the registry");
    const result = await push();
    expect(result.code, gitOutput(result)).toBe(0);
    expect(gitOutput(result)).toContain(`${base}:1 is not on this Docker host: pulling it`);
    const digest = await manifestDigest(sandbox.registryUrl, `${app}/db`, "r3");
    await waitFor(
      "db to run from r3's image",
      async () => (await dbReplicaImage()) === `${registryAddress}/${app}/db@${digest}`,
      20_000,
    );
    // The volume came along: the file written by the first release is still there.
    const page = await getThroughEdge(sandbox.edgePort, `${app}.localhost`, "/cgi-bin/db");
    expect(page).toEqual({ status: 200, body: "stored-once\n" });
  });

  it("fails before any container changes when the image cannot be pulled", async () => {
    const before = await dbReplicaImage();
    await commit(spec(`${registryAddress}/bases/no-such-image:9`, "v4"), "gone");
    const result = await push();
    expect(result.code).not.toBe(0);
    expect(gitOutput(result)).toMatch(
      new RegExp(
        `db: image ${registryAddress}/bases/no-such-image:9 could not be pulled: .*(not found|unknown)`,
      ),
    );
    expect(gitOutput(result)).toContain("hint: the registry does not hold");
    expect(await dbReplicaImage()).toBe(before);
    const page = await getThroughEdge(sandbox.edgePort, `${app}.localhost`, "/");
    expect(page).toEqual({ status: 200, body: "web v3\n" });
  });
});
