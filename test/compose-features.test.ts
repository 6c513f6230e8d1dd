import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { instanceId, LABELS } from "../src/docker/engine.js";
import { ensureTestImage, TEST_IMAGE, testDocker } from "./support/busybox-image.js";
import { getThroughEdge } from "./support/deploy-app.js";
import { type GitResult, gitOk, isolatedGitEnv } from "./support/git-cli.js";
import { commitFiles, gitOutput, pushToSandbox, writeFiles } from "./support/pipeline-app.js";
import {
  createSandbox,
  destroySandbox,
  type SkiffSandbox,
  skiff,
  startForegroundServer,
  waitFor,
} from "./support/skiff-harness.js";

/**
 * A Compose file written the way people write them, pushed to a real
 * server: `ports:` makes the web service reachable, a read-only bind of a
 * repository file and a directory, a secret from a file and one from the
 * environment, a config with inline content, `stop_signal`, `init`,
 * `tmpfs`, an anonymous volume, and keys Skiff never grants. The container
 * Docker runs is inspected for each, and the web app serves the files.
 */

const app = `cf${randomBytes(3).toString("hex")}`;

function files(secret: string): Record<string, string> {
  return {
    "compose.yaml": [
      "services:",
      "  web:",
      "    build: ./web",
      '    ports: ["8080:8080"]',
      // Exits on SIGUSR1 only: without stop_signal it would hold its grace period.
      `    command: ["sh", "-c", "trap 'exit 0' USR1; trap '' TERM; httpd -f -p 8080 -h /www & wait"]`,
      "    stop_signal: SIGUSR1",
      "    stop_grace_period: 30s",
      "    init: false",
      "    privileged: true",
      "    cap_add: [NET_ADMIN]",
      "    tmpfs: [/scratch]",
      "    volumes:",
      "      - ./site/extra.html:/www/extra.html:ro",
      "      - ./site/docs:/www/docs:ro,z",
      "      - /cache",
      "    secrets:",
      "      - db_password",
      "      - source: api_key",
      "        mode: 0400",
      "    configs:",
      "      - source: motd",
      "        target: /www/motd.txt",
      // Capitals, as Compose allows: its image goes to .../notes, and web reaches it as notes.
      "  Notes:",
      `    image: ${TEST_IMAGE}`,
      `    command: ["sh", "-c", "mkdir -p /n && echo a note > /n/index.html && exec httpd -f -p 7000 -h /n"]`,
      "secrets:",
      "  db_password: { file: ./secrets/db_password.txt }",
      "  api_key: { environment: API_KEY }",
      "configs:",
      "  motd: { content: hello from a config }",
      "",
    ].join("\n"),
    ".env": "API_KEY=key-from-dotenv\n",
    "web/Dockerfile": `FROM ${TEST_IMAGE}\nCOPY www /www\n`,
    "web/www/index.html": "index\n",
    "web/www/cgi-bin/secret": `#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\ncat /run/secrets/db_password\n`,
    "web/www/cgi-bin/notes": `#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\nwget -q -O - http://notes:7000/\n`,
    "site/extra.html": "extra from the repository\n",
    "site/docs/a.txt": "doc a\n",
    // In the image at the bound directory's target: the bind hides it, as in Compose.
    "web/www/docs/from-image.txt": "from the image\n",
    "secrets/db_password.txt": secret,
  };
}

describe("a Compose file as people write it", () => {
  let sandbox: SkiffSandbox;
  let server: ChildProcess;
  let root: string;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let firstPush: GitResult;
  const docker = testDocker();

  beforeAll(async () => {
    await ensureTestImage(docker);
    sandbox = await createSandbox();
    server = await startForegroundServer(sandbox);
    root = mkdtempSync(join(tmpdir(), "skiff-compose-features-"));
    env = isolatedGitEnv(join(root, "home"));
    dir = join(root, app);
    expect((await skiff(sandbox, ["apps:create", app])).code).toBe(0);
    mkdirSync(dir, { recursive: true });
    await gitOk(["init", "--quiet", "--initial-branch=main"], { cwd: dir, env });
    await commit(files("first-secret\n"), "v1");
    firstPush = await push();
  });

  afterAll(async () => {
    if (sandbox) await destroySandbox(sandbox, server);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  async function commit(content: Record<string, string>, message: string): Promise<void> {
    writeFiles(dir, content);
    for (const script of ["secret", "notes"])
      chmodSync(join(dir, "web/www/cgi-bin", script), 0o755);
    await commitFiles(dir, {}, message, env);
  }

  function push(): Promise<GitResult> {
    return pushToSandbox(sandbox, app, dir, env);
  }

  async function webContainers() {
    return docker.listContainers({
      all: true,
      filters: {
        label: [
          `${LABELS.instance}=${instanceId(sandbox.home)}`,
          `${LABELS.app}=${app}`,
          `${LABELS.service}=web`,
        ],
      },
    });
  }

  async function get(path: string) {
    return getThroughEdge(sandbox.edgePort, `${app}.localhost`, path);
  }

  it("deploys, routed by its ports:, and says what it did not grant", () => {
    expect(firstPush.code, gitOutput(firstPush)).toBe(0);
    const output = gitOutput(firstPush);
    expect(output).toMatch(/warning: .*services\.web\.privileged/);
    expect(output).toMatch(/warning: .*services\.web\.cap_add/);
    expect(output).toMatch(/warning: .*services\.web\.volumes\[2\].*anonymous/);
  });

  it("serves the bound files, the secret and the config from inside the container", async () => {
    expect(await get("/extra.html")).toEqual({ status: 200, body: "extra from the repository\n" });
    expect(await get("/docs/a.txt")).toEqual({ status: 200, body: "doc a\n" });
    expect(await get("/docs/from-image.txt")).toMatchObject({ status: 404 });
    expect(await get("/motd.txt")).toEqual({ status: 200, body: "hello from a config" });
    expect(await get("/cgi-bin/secret")).toEqual({ status: 200, body: "first-secret\n" });
    expect(await get("/cgi-bin/notes")).toEqual({ status: 200, body: "a note\n" });
  });

  it("runs the container as the spec says, and never as it asked to be privileged", async () => {
    const [web] = await webContainers();
    const info = await docker.getContainer(web?.Id as string).inspect();
    expect((info.Config as { StopSignal?: string }).StopSignal).toBe("SIGUSR1");
    expect(info.HostConfig.Privileged).toBe(false);
    expect(info.HostConfig.CapAdd ?? []).toEqual([]);
    expect(info.HostConfig.Tmpfs).toEqual({ "/scratch": "" });
    expect(info.HostConfig.Memory).toBe(1024 * 1024 * 1024);
    expect(info.HostConfig.PidsLimit).toBe(1024);
    const cache = info.Mounts.find((m) => m.Destination === "/cache");
    expect(cache?.Type).toBe("volume");
    const exec = await docker.getContainer(web?.Id as string).exec({
      Cmd: [
        "sh",
        "-c",
        "stat -c '%a %u' /run/secrets/db_password /run/secrets/api_key; cat /run/secrets/api_key",
      ],
      AttachStdout: true,
    });
    const stream = await exec.start({});
    let out = "";
    await new Promise<void>((resolve) => {
      stream.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
      stream.on("end", () => resolve());
    });
    expect(out).toContain("444 0");
    expect(out).toContain("400 0");
    expect(out).toContain("key-from-dotenv");
  });

  it("replaces the service when only a secret's content changed, and stops the old one with its stop_signal", async () => {
    const [before] = await webContainers();
    const anonymous = (await docker.getContainer(before?.Id as string).inspect()).Mounts.find(
      (m) => m.Destination === "/cache",
    )?.Name as string;
    await commit({ "secrets/db_password.txt": "second-secret\n" }, "rotate the secret");
    const result = await push();
    expect(result.code, gitOutput(result)).toBe(0);
    expect(await get("/cgi-bin/secret")).toEqual({ status: 200, body: "second-secret\n" });
    // SIGUSR1 ends it at once: well inside its 30 s grace period.
    await waitFor(
      "the old replica to be gone",
      async () => (await webContainers()).every((c) => c.Id !== before?.Id),
      15_000,
    );
    // Its anonymous volume went with it.
    await waitFor(
      "the old replica's anonymous volume to be gone",
      async () => !(await docker.listVolumes()).Volumes.some((v) => v.Name === anonymous),
      10_000,
    );
  });
});
