import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type BaseImageEvent,
  type BaseImageResult,
  buildBaseImage,
  listBaseImages,
} from "../src/bases/index.js";
import { RegistryClient } from "../src/registry/client.js";
import { TEST_LABEL, testDocker } from "./support/busybox-image.js";
import { startTestRegistry, type TestRegistry } from "./support/registry-image.js";

/**
 * A real debootstrap (minbase + netbase, about 30 s and 200 MB here) from
 * the mirror this host's apt uses, imported and pushed to a test registry.
 * It runs once, in beforeAll; the tests read its result. The image is
 * removed by its exact name afterwards. Needs root and debootstrap, as the
 * feature itself does; without them the suite is skipped, saying why.
 */

const isRoot = process.getuid?.() === 0;
const hasDebootstrap = ["/usr/sbin/debootstrap", "/sbin/debootstrap", "/usr/bin/debootstrap"].some(
  (path) => existsSync(path),
);
const runnable = isRoot && hasDebootstrap;
if (!runnable) {
  console.warn(
    `bases.test.ts skipped: ${isRoot ? "debootstrap is not installed" : "not running as root"}`,
  );
}

const name = `buildtest-${randomBytes(4).toString("hex")}`;
let docker: Docker;
let registry: TestRegistry;
let registryAddress: string;
let client: RegistryClient;
let workDir: string;
let built: BaseImageResult;
let buildMs: number;
const events: BaseImageEvent[] = [];

describe.skipIf(!runnable)("base images from Debian packages", () => {
  beforeAll(async () => {
    docker = testDocker();
    registry = await startTestRegistry();
    registryAddress = new URL(registry.url).host;
    client = new RegistryClient({ url: registry.url });
    workDir = mkdtempSync(join(tmpdir(), "skiff-bases-"));
    const started = Date.now();
    built = await buildBaseImage(
      {
        name,
        packages: ["netbase"],
        suite: "bookworm",
        registryAddress,
        docker,
        workDir,
        registry: client,
        // never reuse an image another run left behind: this run proves the build
        force: true,
      },
      (event) => events.push(event),
    );
    buildMs = Date.now() - started;
    console.log(
      `base image ${built.reference}: ${buildMs} ms, ${Math.round(built.sizeBytes / 1e6)} MB`,
    );
  }, 110_000);

  afterAll(async () => {
    if (built) {
      await docker
        .getImage(built.reference)
        .remove()
        .catch(() => {});
    }
    const containers = await docker.listContainers({
      all: true,
      filters: { label: [`${TEST_LABEL}=${name}`] },
    });
    for (const c of containers) await docker.getContainer(c.Id).remove({ force: true });
    if (workDir) rmSync(workDir, { recursive: true, force: true });
    await registry?.stop();
  });

  it("builds, labels, imports and pushes the image, removing its work directory", async () => {
    expect(built.reused).toBe(false);
    expect(built.reference).toBe(`${registryAddress}/bases/${name}:bookworm`);
    expect(built.packages).toEqual(["netbase"]);
    expect(built.digest).toBe(await client.manifestDigest(`bases/${name}`, "bookworm"));
    const inspect = await docker.getImage(built.reference).inspect();
    expect(inspect.Id).toBe(built.imageId);
    expect(inspect.Config.Labels).toMatchObject({
      "skiff.base.packages": "netbase",
      "skiff.base.suite": "bookworm",
      "skiff.base.built": built.built,
    });
    expect(Number.isNaN(Date.parse(built.built))).toBe(false);
    expect(inspect.Config.Cmd).toEqual(["bash"]);
    expect(readdirSync(workDir)).toEqual([]);
    expect(buildMs).toBeLessThan(110_000);
  });

  it("reports each phase, and debootstrap's output coalesced", () => {
    const phases = events.flatMap((event) => (event.type === "phase" ? [event.phase] : []));
    expect(phases).toEqual(["debootstrap", "clean", "import", "push"]);
    const output = events.filter((event) => event.type === "output");
    expect(output.length).toBeGreaterThan(0);
    // debootstrap prints hundreds of lines; far fewer events go out
    const printed = output.reduce(
      (sum, event) => sum + 1 + (event.type === "output" ? event.skipped : 0),
      0,
    );
    expect(printed).toBeGreaterThan(100);
    expect(output.length).toBeLessThan(printed / 3);
    expect(events.some((event) => event.type === "layer")).toBe(true);
  });

  it("holds the requested package and no apt caches", async () => {
    const check = [
      "test -f /etc/services", // from netbase
      "test -z \"$(ls /var/lib/apt/lists | grep -v -e '^partial$' -e '^lock$')\"",
      "test -z \"$(ls /var/cache/apt/archives | grep -v -e '^partial$' -e '^lock$')\"",
      "test ! -e /var/cache/apt/pkgcache.bin",
      "dpkg -s netbase >/dev/null",
    ].join(" && ");
    const container = await docker.createContainer({
      Image: built.reference,
      Cmd: ["bash", "-c", check],
      Labels: { [TEST_LABEL]: name },
    });
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const logs = (await container.logs({ stdout: true, stderr: true })).toString();
    await container.remove({ force: true });
    expect(StatusCode, logs).toBe(0);
  });

  it("reuses the image when packages and suite match, and just pushes it again", async () => {
    const again: BaseImageEvent[] = [];
    const started = Date.now();
    const result = await buildBaseImage(
      {
        name,
        packages: ["netbase"],
        suite: "bookworm",
        registryAddress,
        docker,
        workDir,
        registry: client,
      },
      (event) => again.push(event),
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.reused).toBe(true);
    expect(result.imageId).toBe(built.imageId);
    expect(result.digest).toBe(built.digest);
    expect(again.flatMap((event) => (event.type === "phase" ? [event.phase] : []))).toEqual([
      "reuse",
      "push",
    ]);
  });

  it("lists the base image with its packages, size, date and registry digest", async () => {
    const list = await listBaseImages(docker, client);
    const mine = list.find((entry) => entry.reference === built.reference);
    expect(mine).toEqual({
      name,
      suite: "bookworm",
      reference: built.reference,
      packages: ["netbase"],
      sizeBytes: built.sizeBytes,
      built: built.built,
      imageId: built.imageId,
      digest: built.digest,
      local: true,
    });
  });
});
