import { type ChildProcess, execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { instanceId, LABELS } from "../src/docker/engine.js";
import { testDocker } from "./support/busybox-image.js";
import { getThroughEdge } from "./support/deploy-app.js";
import { type GitResult, git, gitOk, isolatedGitEnv } from "./support/git-cli.js";
import { commitFiles } from "./support/pipeline-app.js";
import {
  type CliResult,
  createSandbox,
  destroySandbox,
  readToken,
  SKIFF_BIN,
  type SkiffSandbox,
  skiff,
  startForegroundServer,
  waitFor,
} from "./support/skiff-harness.js";

/**
 * examples/php-site deploys as written: Apache with mod_php, MariaDB on a
 * named volume (its own small entrypoint, the password from a Compose
 * secret), Redis and Memcached from `image:` references, all on base images
 * that `skiff bases:build` makes from Debian's packages. The page counts
 * visits in all three; the count survives a code push and a `docker kill`
 * of the database.
 *
 * The first run on a Docker host debootstraps the four base images (about
 * 2 to 3.5 minutes, all four at once). Each is then also tagged
 * BASE_KEEP/NAME:bookworm, a tag outside the sandbox's registry, so
 * destroySandbox (which removes the images tagged with its registry's
 * address) leaves it, and the next run's `bases:build` finds it by its
 * packages and suite and only pushes it.
 */

const EXAMPLE = fileURLToPath(new URL("../examples/php-site", import.meta.url));
const BASE_KEEP = "skiff-test/bases";

/** The base images the example names, with the packages of each (as its README says). */
const BASES: Record<string, string> = {
  "php-apache": "apache2,libapache2-mod-php,php-mysql,php-redis,php-memcached",
  mariadb: "mariadb-server,mariadb-client",
  redis: "redis-server",
  memcached: "memcached",
};

// bases:build debootstraps, which needs root and debootstrap, as in bases.test.ts.
const isRoot = process.getuid?.() === 0;
const hasDebootstrap = ["/usr/sbin/debootstrap", "/sbin/debootstrap", "/usr/bin/debootstrap"].some(
  (path) => existsSync(path),
);
const runnable = isRoot && hasDebootstrap;
if (!runnable) {
  console.warn(
    `php-site.test.ts skipped: ${isRoot ? "debootstrap is not installed" : "not running as root"}`,
  );
}

const app = `php${randomBytes(3).toString("hex")}`;
const TITLE = "Visits to a PHP site";

/** `bin/skiff ARGS` with a long timeout: the harness's skiff() gives up after 90 s, a first debootstrap takes longer. */
function skiffSlow(sandbox: SkiffSandbox, args: string[], timeoutMs: number): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [SKIFF_BIN, ...args],
      { env: sandbox.env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Every file under `dir` (relative paths), for rewriting the registry address. */
function filesUnder(dir: string, prefix = ""): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((entry) => {
    const path = join(prefix, entry.name);
    return entry.isDirectory() ? filesUnder(dir, path) : [path];
  });
}

/** The three counters the page shows (data-counter elements), or undefined when it did not answer 200. */
function counters(page: { status: number; body: string } | { error: string }) {
  if ("error" in page || page.status !== 200) return undefined;
  const value = (name: string) => {
    const match = new RegExp(`data-counter="${name}">(\\d+)<`).exec(page.body);
    return match ? Number(match[1]) : undefined;
  };
  return { mariadb: value("mariadb"), redis: value("redis"), memcached: value("memcached") };
}

describe.skipIf(!runnable)("examples/php-site: a PHP operator's site", () => {
  let sandbox: SkiffSandbox;
  let server: ChildProcess;
  let root: string;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let firstPush: GitResult;
  /** The MariaDB count of the last page seen. */
  let visits = 0;
  let codePush: GitResult;
  let dbBeforeCodePush: string[] = [];
  const docker = testDocker();
  const baseTimes: Record<string, string> = {};

  beforeAll(async () => {
    sandbox = await createSandbox();
    server = await startForegroundServer(sandbox);
    // The sandbox runs its own registry on a random port, not 127.0.0.1:5000:
    // the base images go there, and the example's FROM and image: lines are
    // rewritten to name it.
    const registryAddress = `127.0.0.1:${sandbox.registryPort}`;
    await Promise.all(
      Object.entries(BASES).map(async ([name, packages]) => {
        const started = Date.now();
        const result = await skiffSlow(
          sandbox,
          ["bases:build", name, "--packages", packages],
          15 * 60_000,
        );
        expect(result.code, `bases:build ${name}:\n${result.stdout}\n${result.stderr}`).toBe(0);
        baseTimes[name] =
          `${Math.round((Date.now() - started) / 1000)} s, ${/Pushed the existing/.test(result.stdout) ? "reused" : "built"}`;
        await docker
          .getImage(`${registryAddress}/bases/${name}:bookworm`)
          .tag({ repo: `${BASE_KEEP}/${name}`, tag: "bookworm" });
      }),
    );
    console.log(`php-site base images: ${JSON.stringify(baseTimes)}`);

    root = mkdtempSync(join(tmpdir(), "skiff-php-site-"));
    env = isolatedGitEnv(join(root, "home"));
    dir = join(root, app);
    cpSync(EXAMPLE, dir, { recursive: true });
    for (const file of filesUnder(dir)) {
      const text = readFileSync(join(dir, file), "utf8");
      if (text.includes("127.0.0.1:5000/")) {
        writeFileSync(join(dir, file), text.replaceAll("127.0.0.1:5000/", `${registryAddress}/`));
      }
    }
    expect((await skiff(sandbox, ["apps:create", app])).code).toBe(0);
    await gitOk(["init", "--quiet", "--initial-branch=main"], { cwd: dir, env });
    await commitFiles(dir, {}, "The PHP site as it is", env);
    firstPush = await push();
  }, 25 * 60_000);

  afterAll(async () => {
    if (sandbox) await destroySandbox(sandbox, server);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  function push(): Promise<GitResult> {
    const remote = `http://x:${readToken(sandbox)}@127.0.0.1:${sandbox.apiPort}/git/${app}.git`;
    return git(["push", "--progress", remote, "main"], { cwd: dir, env });
  }

  function text(result: GitResult): string {
    return result.lines.map((line) => line.text).join("\n");
  }

  function page() {
    return getThroughEdge(sandbox.edgePort, `${app}.localhost`, "/");
  }

  async function dbContainers() {
    return docker.listContainers({
      all: true,
      filters: {
        label: [
          `${LABELS.instance}=${instanceId(sandbox.home)}`,
          `${LABELS.app}=${app}`,
          `${LABELS.service}=db`,
        ],
      },
    });
  }

  it("deploys as written, after its PHP test passed in the web image", () => {
    const output = text(firstPush);
    expect(firstPush.code, output).toBe(0);
    expect(output).toContain("No syntax errors detected in /var/www/site/src/site.php");
    expect(output).toContain("ok   the password file loses its newline");
  });

  it("answers through the edge, counting each visit in MariaDB, Redis and Memcached", async () => {
    // A new volume and new caches: the page's first visit creates the table and each counter.
    const first = counters(await page());
    expect(first).toEqual({ mariadb: 1, redis: 1, memcached: 1 });
    const second = counters(await page());
    expect(second).toEqual({
      mariadb: (first?.mariadb ?? 0) + 1,
      redis: (first?.redis ?? 0) + 1,
      memcached: (first?.memcached ?? 0) + 1,
    });
    visits = second?.mariadb ?? 0;
    expect(await getThroughEdge(sandbox.edgePort, `${app}.localhost`, "/healthz.php")).toEqual({
      status: 200,
      body: "ok\n",
    });
  });

  it("puts a code change live and keeps counting where it was", async () => {
    const index = join(dir, "web/app/public/index.php");
    const code = readFileSync(index, "utf8");
    expect(code).toContain(`'${TITLE}'`);
    writeFileSync(index, code.replace(`'${TITLE}'`, "'Visits, counted again'"));
    dbBeforeCodePush = (await dbContainers()).map((c) => c.Id);
    await commitFiles(dir, {}, "A new title", env);
    codePush = await push();
    expect(codePush.code, text(codePush)).toBe(0);
    const after = await page();
    expect("body" in after && after.body).toContain("<title>Visits, counted again</title>");
    expect(counters(after)?.mariadb).toBe(visits + 1);
    visits += 1;
  });

  it("keeps the database running through a push that changed only the web code", async () => {
    expect(text(codePush)).toMatch(/\[db\] unchanged since r1 .*not rebuilt/);
    expect(
      (await dbContainers()).map((c) => c.Id),
      text(codePush),
    ).toEqual(dbBeforeCodePush);
  });

  it("brings a killed MariaDB back on the same volume, with nothing lost", async () => {
    const [before] = await dbContainers();
    const volume = before?.Mounts.find((m) => m.Destination === "/var/lib/mysql")?.Name;
    expect(volume).toBeTruthy();
    await docker.getContainer(before?.Id as string).kill();
    let seen: ReturnType<typeof counters>;
    await waitFor(
      "the site to count visits again after the database was killed",
      async () => {
        seen = counters(await page());
        return seen !== undefined;
      },
      180_000,
    );
    // The first visit that got through is the next one: no count was lost.
    expect(seen?.mariadb).toBe(visits + 1);
    const running = (await dbContainers()).filter((c) => c.State === "running");
    expect(running).toHaveLength(1);
    console.log(
      `php-site: the killed db came back as ${running[0]?.Id === before?.Id ? "the same container (Docker's restart policy)" : "a new container (Skiff's reconciler)"}`,
    );
    expect(running[0]?.Mounts.find((m) => m.Destination === "/var/lib/mysql")?.Name).toBe(volume);
  }, 240_000);
});
