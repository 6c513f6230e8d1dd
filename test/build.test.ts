import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type BuildEvent,
  type BuildResult,
  type BuildStep,
  buildImage,
} from "../src/build/index.js";
import { type PushEvent, pushImage } from "../src/docker/image-push.js";
import { RegistryClient, RegistryError } from "../src/registry/client.js";
import { pruneBuildCacheByToken } from "./support/build-cache.js";
import { ensureTestImage, TEST_IMAGE, testDocker } from "./support/busybox-image.js";
import { freePort, startTestRegistry, type TestRegistry } from "./support/registry-image.js";

/**
 * Builds through BuildKit on the real Docker Engine (20.10 here) and pushes
 * to a real Distribution registry on 127.0.0.1. Every image is tagged under
 * a random `skiff-buildtest-*` name and removed by that name afterwards;
 * build cache records are pruned by the random token in their RUN commands.
 */

const prefix = `skiff-buildtest-${randomBytes(4).toString("hex")}`;
let docker: Docker;
let registry: TestRegistry;
let registryHost: string;
let client: RegistryClient;
const tempDirs: string[] = [];
const images = new Set<string>();

beforeAll(async () => {
  docker = testDocker();
  await ensureTestImage(docker);
  registry = await startTestRegistry();
  registryHost = new URL(registry.url).host;
  client = new RegistryClient({ url: registry.url });
});

afterAll(async () => {
  for (const image of images) {
    await docker
      .getImage(image)
      .remove()
      .catch(() => {});
  }
  await pruneBuildCacheByToken(docker, prefix).catch(() => {});
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  await registry?.stop();
});

/** A context directory holding `files`. */
function context(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "skiff-build-"));
  tempDirs.push(dir);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

function tag(name: string): string {
  const ref = `${prefix}/${name}`;
  images.add(ref);
  return ref;
}

function registryTag(repository: string, version: string): string {
  const ref = `${registryHost}/${prefix}/${repository}:${version}`;
  images.add(ref);
  return ref;
}

function dockerfileSteps(result: BuildResult): BuildStep[] {
  return result.steps.filter((step) => !step.internal);
}

async function removeImage(ref: string): Promise<void> {
  await docker.getImage(ref).remove();
}

describe("buildImage", () => {
  let threeSteps: string;
  const token = `${prefix}-three`;

  it("builds three steps and records each, with events as they happen", async () => {
    threeSteps = context({
      Dockerfile: [
        `FROM ${TEST_IMAGE}`,
        "COPY app.txt /app/app.txt",
        `RUN cat /app/app.txt && echo ${token} > /app/built.txt`,
        "",
      ].join("\n"),
      "app.txt": "hello from the context\n",
    });
    const events: BuildEvent[] = [];
    const result = await buildImage(
      docker,
      { contextDir: threeSteps, tags: [tag("three:1"), tag("three:latest")] },
      (event) => events.push(event),
    );
    expect(result.ok, JSON.stringify(result)).toBe(true);
    if (!result.ok) return;
    expect(result.imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
    const steps = dockerfileSteps(result);
    expect(steps.map((step) => step.name)).toEqual([
      "[1/3] FROM docker.io/skiff-test/busybox:1",
      "[2/3] COPY app.txt /app/app.txt",
      `[3/3] RUN cat /app/app.txt && echo ${token} > /app/built.txt`,
    ]);
    const run = steps[2] as BuildStep;
    expect(run.cached).toBe(false);
    expect(run.id).toMatch(/^sha256:/);
    expect(Date.parse(run.completedAt ?? "")).toBeGreaterThanOrEqual(
      Date.parse(run.startedAt ?? ""),
    );
    expect(run.durationMs).toBeGreaterThanOrEqual(0);
    expect(result.steps.some((step) => step.internal)).toBe(true);

    // events: the RUN step started, printed the file, completed
    const runEvents = events.filter(
      (event) =>
        (event.type === "step" && event.step.id === run.id) ||
        (event.type === "log" && event.stepId === run.id),
    );
    expect(
      runEvents.map((event) =>
        event.type === "step" ? (event.step.completedAt ? "completed" : "started") : "log",
      ),
    ).toEqual(["started", "log", "completed"]);
    const log = runEvents.find((event) => event.type === "log");
    expect(log?.type === "log" && log.text).toBe("hello from the context\n");

    const inspect = await docker.getImage(`${prefix}/three:latest`).inspect();
    expect(inspect.Id).toBe(result.imageId);
  });

  it("rebuilds the same context with every step cached", async () => {
    const result = await buildImage(docker, { contextDir: threeSteps, tags: [tag("three:2")] });
    expect(result.ok).toBe(true);
    // FROM a local image is resolved again each time and not always marked cached.
    expect(dockerfileSteps(result).map((step) => [step.name.slice(0, 10), step.cached])).toEqual([
      ["[1/3] FROM", expect.any(Boolean)],
      ["[2/3] COPY", true],
      ["[3/3] RUN ", true],
    ]);
  });

  it("returns a failed RUN step with its name, exit code and output", async () => {
    const dir = context({
      Dockerfile: `FROM ${TEST_IMAGE}\nRUN echo ${prefix}-before && echo to-stderr >&2 && false\n`,
    });
    const result = await buildImage(docker, { contextDir: dir, tags: [tag("fails:1")] });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toBe("step");
    expect(result.failedStep?.name).toBe(
      `[2/2] RUN echo ${prefix}-before && echo to-stderr >&2 && false`,
    );
    expect(result.exitCode).toBe(1);
    // stdout and stderr are separate pipes: their lines may arrive in either order
    expect([...result.output].sort()).toEqual([`${prefix}-before`, "to-stderr"].sort());
    expect(result.message).toContain("exit code: 1");
    expect(result.hint).toBeTruthy();
  });

  it("returns a COPY of a missing file as a failed step with a hint", async () => {
    const dir = context({ Dockerfile: `FROM ${TEST_IMAGE}\nCOPY nothere /x\n` });
    const result = await buildImage(docker, { contextDir: dir, tags: [tag("missing:1")] });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toBe("step");
    expect(result.failedStep?.name).toBe("[2/2] COPY nothere /x");
    expect(result.exitCode).toBeUndefined();
    expect(result.message).toContain('"/nothere" not found');
    expect(result.hint).toContain(".dockerignore");
  });

  it("returns the daemon's refusal of a bad request (an invalid tag) as a failure", async () => {
    const dir = context({ Dockerfile: `FROM ${TEST_IMAGE}\n` });
    const result = await buildImage(docker, { contextDir: dir, tags: ["Not/A:Valid:Tag"] });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toBe("error");
    // Docker 20.10 answers 500 here, before any stream
    expect(result.message).toBe(
      "Docker Engine refused to build Not/A:Valid:Tag: invalid reference format: repository name must be lowercase (HTTP 500)",
    );
    expect(result.hint).toContain("lower-case");
  });

  it("leaves out what .dockerignore names", async () => {
    const dir = context({
      Dockerfile: [
        `FROM ${TEST_IMAGE}`,
        "COPY . /ctx",
        "RUN test ! -e /ctx/secret.txt && test ! -e /ctx/logs/drop.log && test -e /ctx/logs/keep.log && test -e /ctx/app.txt",
        "",
      ].join("\n"),
      ".dockerignore": "secret.txt\nlogs\n!logs/keep.log\n",
      "secret.txt": "hunter2\n",
      "app.txt": "app\n",
      "logs/keep.log": "keep\n",
      "logs/drop.log": "drop\n",
    });
    const result = await buildImage(docker, { contextDir: dir, tags: [tag("ignore:1")] });
    expect(result.ok, JSON.stringify(result)).toBe(true);
  });

  it("cancels through the AbortSignal", async () => {
    const dir = context({
      Dockerfile: `FROM ${TEST_IMAGE}\nRUN echo ${prefix}-slow && sleep 30\n`,
    });
    const controller = new AbortController();
    const started = Date.now();
    const result = await buildImage(
      docker,
      { contextDir: dir, tags: [tag("slow:1")], signal: controller.signal },
      (event) => {
        if (event.type === "log") controller.abort();
      },
    );
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toBe("cancelled");
    expect(Date.now() - started).toBeLessThan(10_000);
    // the daemon stops the RUN too: its `sleep 30` does not outlive the request
    const running = () =>
      execFileSync("ps", ["-eo", "args"]).toString().includes(`echo ${prefix}-slow`);
    const deadline = Date.now() + 5_000;
    while (running() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(running()).toBe(false);
  });

  it("builds when a cache source is missing or its registry is down", async () => {
    const dir = context({ Dockerfile: `FROM ${TEST_IMAGE}\nRUN echo ${prefix}-nocache\n` });
    const missing = `${registryHost}/${prefix}/never-pushed:1`;
    const down = `127.0.0.1:${await freePort()}/${prefix}/down:1`;
    const result = await buildImage(docker, {
      contextDir: dir,
      tags: [tag("nocache:1")],
      cacheFrom: [missing, down],
    });
    expect(result.ok, JSON.stringify(result)).toBe(true);
    const imports = result.steps.filter((step) => step.name.startsWith("importing cache manifest"));
    expect(imports).toHaveLength(2);
    for (const step of imports) {
      expect(step.internal).toBe(true);
      expect(step.error).toBeTruthy();
    }
  });
});

describe("pushImage", () => {
  it("pushes, reports layers, and returns the digest the registry serves", async () => {
    const dir = context({
      Dockerfile: `FROM ${TEST_IMAGE}\nRUN echo ${prefix}-push > /push.txt\n`,
    });
    const ref = registryTag("web", "1");
    const built = await buildImage(docker, { contextDir: dir, tags: [ref] });
    expect(built.ok).toBe(true);
    const events: PushEvent[] = [];
    const { digest } = await pushImage(
      docker,
      { image: `${registryHost}/${prefix}/web`, tag: "1", registry: client },
      (event) => events.push(event),
    );
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await client.manifestDigest(`${prefix}/web`, "1")).toBe(digest);
    const statuses = new Set(events.map((event) => event.status));
    expect(statuses.has("Pushed") || statuses.has("Layer already exists")).toBe(true);
    // coalesced: no more than a handful of events per layer for a tiny image
    const layers = new Set(events.map((event) => event.id));
    expect(events.length).toBeLessThanOrEqual(layers.size * 6);
  });

  it("names the registry and the reason when the registry is down", async () => {
    const port = await freePort();
    const ref = `127.0.0.1:${port}/${prefix}/down`;
    await docker.getImage(TEST_IMAGE).tag({ repo: ref, tag: "1" });
    images.add(`${ref}:1`);
    const down = new RegistryClient({ url: `http://127.0.0.1:${port}` });
    const error = await pushImage(docker, { image: ref, tag: "1", registry: down }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RegistryError);
    const { message, hint } = error as RegistryError;
    expect(message).toContain(`http://127.0.0.1:${port}`);
    expect(message).toContain("connection refused");
    expect(hint).toContain("start the registry");
  });
});

describe("cache from the registry", () => {
  it("reuses the pushed image's steps on a builder without them (the key feature)", async () => {
    const token = `${prefix}-cachefrom`;
    const dir = context({
      Dockerfile: [
        `FROM ${TEST_IMAGE}`,
        `RUN echo ${token} expensive && sleep 2 && echo ${token} > /expensive.txt`,
        "RUN echo cheap > /cheap.txt",
        "",
      ].join("\n"),
    });
    const image = `${registryHost}/${prefix}/cached`;
    const first = await buildImage(docker, { contextDir: dir, tags: [registryTag("cached", "1")] });
    expect(first.ok).toBe(true);
    await pushImage(docker, { image, tag: "1", registry: client });

    // A fresh builder: no local image, no local cache for these steps.
    await removeImage(`${image}:1`);
    expect(await pruneBuildCacheByToken(docker, token)).not.toEqual([]);

    const started = Date.now();
    const second = await buildImage(docker, {
      contextDir: dir,
      tags: [registryTag("cached", "2")],
      cacheFrom: [`${image}:1`],
    });
    const cachedMs = Date.now() - started;
    expect(second.ok, JSON.stringify(second)).toBe(true);
    const expensive = dockerfileSteps(second).find((step) => step.name.includes("expensive"));
    expect(expensive?.cached).toBe(true);
    expect(
      second.steps.some((step) => step.name === `importing cache manifest from ${image}:1`),
    ).toBe(true);
    expect(cachedMs).toBeLessThan(2_000);

    // Control: the same fresh state without cachefrom runs the step again.
    await removeImage(`${image}:2`);
    await pruneBuildCacheByToken(docker, token);
    const third = await buildImage(docker, { contextDir: dir, tags: [registryTag("cached", "3")] });
    expect(third.ok).toBe(true);
    expect(dockerfileSteps(third).find((step) => step.name.includes("expensive"))?.cached).toBe(
      false,
    );
    console.log(
      `cache-from timings: cold ${first.durationMs} ms, cachefrom on a fresh builder ${second.durationMs} ms, no cachefrom ${third.durationMs} ms`,
    );
  });
});
