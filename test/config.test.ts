// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the compose file and a config value hold Compose interpolation syntax, written literally
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pruneBuildCacheByToken } from "./support/build-cache.js";
import { ensureTestImage, TEST_IMAGE, testDocker } from "./support/busybox-image.js";
import { getThroughEdge } from "./support/deploy-app.js";
import { type GitResult, gitOk, isolatedGitEnv, startGit } from "./support/git-cli.js";
import {
  commitFiles,
  gitOutput,
  listRuns,
  pushToSandbox,
  removeAppImages,
  writeFiles,
} from "./support/pipeline-app.js";
import { processEnvironment, runningReplicas } from "./support/replicas.js";
import {
  createSandbox,
  destroySandbox,
  readToken,
  type SkiffSandbox,
  skiff,
  skiffOk,
  startForegroundServer,
  waitFor,
} from "./support/skiff-harness.js";

/**
 * An app's config vars (`skiff config:set`), end to end: the CLI sends them,
 * the server stores them, a config change makes a new release from the live
 * release's images and deploys it through the real Docker Engine, registry
 * and HAProxy edge. One app runs through the cases in order, each starting
 * from the config the one before left: `web` is built from the repository
 * (two replicas behind the edge, a CGI script answers with $GREETING), `db`
 * runs the busybox test image as given (`image:`), so app-wide vars reach it
 * only where the spec names them (`environment: [DB_NAME]`).
 *
 * What a process was started with is read from its /proc/1/environ (NUL
 * separated, proc(5)), the exact bytes its environment holds.
 */

const app = `cf${randomBytes(3).toString("hex")}`;
const host = `${app}.localhost`;

/** Every byte a shell, YAML, JSON or `KEY=VALUE` parser could get wrong. */
const AWKWARD = "p@ss:w=rd $HOME ${HOME} $$ 'q' \"dq\" \\n\tline1\nline2 ü ✓ =end= ";

/** The app at `version`; `slowBuild` adds a build step of about 3 s (unique to this app, so never cached). */
function files(version: string, options: { slowBuild?: boolean } = {}): Record<string, string> {
  return {
    "compose.yaml": [
      "services:",
      "  web:",
      "    build: .",
      "    environment:",
      // Interpolated once: a $ in the config value is not expanded again.
      '      ECHOED: "${SECRET:-none}"',
      '      MOTTO: "${MOTTO:?set MOTTO with skiff config:set}"',
      "    stop_grace_period: 2s",
      "    deploy: { replicas: 2 }",
      "    x-skiff: { port: 8080, health: { path: /, interval: 250ms, timeout: 15s } }",
      "  db:",
      `    image: ${TEST_IMAGE}`,
      '    command: ["sleep", "3600"]',
      "    environment: [DB_NAME]",
      "    stop_grace_period: 1s",
      "    x-skiff: { health: { stable_for: 1s } }",
      "",
    ].join("\n"),
    // Interpolation sees the app's config over this file.
    ".env": "DB_NAME=from-dotenv\n",
    Dockerfile: [
      `FROM ${TEST_IMAGE}`,
      ...(options.slowBuild ? [`RUN sleep 3 && echo ${app} > /slow`] : []),
      "COPY www /www",
      'CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]',
      "",
    ].join("\n"),
    "www/index.html": `web ${version}\n`,
    "www/cgi-bin/greeting": [
      "#!/bin/sh",
      'printf "Content-Type: text/plain\\r\\n\\r\\n"',
      'printf "%s" "$GREETING"',
      "",
    ].join("\n"),
  };
}

/** A ConfigSnapshot as `skiff config --json` prints it. */
interface ConfigAnswer {
  app: Record<string, string>;
  services: Record<string, Record<string, string>>;
}

/**
 * GETs through the edge at `perSecond` on keep-alive connections, each on
 * schedule whether or not the one before has answered, until stopped; every
 * answer that is not a 200 (or no answer) is a failure.
 */
function boundedLoad(edgePort: number, path: string, perSecond: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const failures: string[] = [];
  const bodies = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  let sent = 0;
  const once = () =>
    new Promise<void>((resolve) => {
      const req = request(
        { host: "127.0.0.1", port: edgePort, path, headers: { host }, agent, timeout: 5000 },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (chunk) => (body += chunk));
          res.on("end", () => {
            if (res.statusCode === 200) bodies.add(body);
            else failures.push(`HTTP ${res.statusCode}: ${body.slice(0, 80)}`);
            resolve();
          });
          res.on("error", (error) => {
            failures.push(`response: ${error.message}`);
            resolve();
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error("timed out")));
      req.on("error", (error) => {
        failures.push(`socket: ${error.message}`);
        resolve();
      });
      req.end();
    });
  const timer = setInterval(() => {
    sent++;
    const done = once();
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  }, 1000 / perSecond);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
      agent.destroy();
      return { sent, failures, bodies };
    },
  };
}

describe("config vars: set through the CLI, rolled out as a release of the live images", () => {
  let sandbox: SkiffSandbox;
  let server: ChildProcess;
  let root: string;
  let env: NodeJS.ProcessEnv;
  let dir: string;
  const docker = testDocker();
  /** `skiff config --json` right after `LEVEL=3` was rolled out: what the rollback brings back. */
  let configWithLevel: ConfigAnswer;

  beforeAll(async () => {
    await ensureTestImage(docker);
    sandbox = await createSandbox();
    server = await startForegroundServer(sandbox);
    root = mkdtempSync(join(tmpdir(), "skiff-config-"));
    env = isolatedGitEnv(join(root, "home"));
    dir = join(root, app);
    mkdirSync(dir, { recursive: true });
    await gitOk(["init", "--quiet", "--initial-branch=main"], { cwd: dir, env });
    const created = await skiff(sandbox, ["apps:create", app]);
    expect(created.code, created.stderr).toBe(0);
  });

  afterAll(async () => {
    if (sandbox) {
      await destroySandbox(sandbox, server);
      await removeAppImages(docker, `127.0.0.1:${sandbox.registryPort}`, app);
      await pruneBuildCacheByToken(docker, app);
    }
    if (root) rmSync(root, { recursive: true, force: true });
  });

  /** Commits the app at `version`; returns the commit. */
  async function commit(version: string, options: { slowBuild?: boolean } = {}) {
    writeFiles(dir, files(version, options));
    chmodSync(join(dir, "www/cgi-bin/greeting"), 0o755);
    return commitFiles(dir, {}, version, env);
  }

  async function push(version: string): Promise<GitResult> {
    await commit(version);
    return pushToSandbox(sandbox, app, dir, env);
  }

  async function config(): Promise<ConfigAnswer> {
    return JSON.parse((await skiffOk(sandbox, ["config", app, "--json"])).stdout) as ConfigAnswer;
  }

  async function live(): Promise<{ number: number; commit?: string }> {
    const { releases } = JSON.parse(
      (await skiffOk(sandbox, ["releases", app, "--json"])).stdout,
    ) as {
      releases: { number: number; status: string; commit?: string }[];
    };
    const found = releases.find((r) => r.status === "live");
    if (!found) throw new Error(`no live release of ${app}: ${JSON.stringify(releases)}`);
    return found;
  }

  async function liveRelease(): Promise<number> {
    return (await live()).number;
  }

  /** Waits until `count` replicas of `service` run (replaced ones stop in the background); their ids. */
  async function onlyRunning(service: string, count: number): Promise<string[]> {
    let ids: string[] = [];
    await waitFor(
      `${count} running ${service} replica(s)`,
      async () => {
        ids = (await runningReplicas(docker, sandbox, app, service)).map((c) => c.Id);
        return ids.length === count;
      },
      30_000,
    );
    return ids;
  }

  /** The environments of web's two replicas. */
  async function webEnvironments(): Promise<Record<string, string>[]> {
    return Promise.all((await onlyRunning("web", 2)).map((id) => processEnvironment(docker, id)));
  }

  it("fails a push whose spec requires an unset var, by its name; config:set without a live release only stores it", async () => {
    const first = await push("v1");
    expect(first.code, gitOutput(first)).not.toBe(0);
    expect(gitOutput(first)).toContain(
      "required variable MOTTO is not set: set MOTTO with skiff config:set",
    );
    expect(await runningReplicas(docker, sandbox, app, "web")).toEqual([]);

    const set = await skiffOk(sandbox, [
      "config:set",
      app,
      "MOTTO=carpe diem",
      "GREETING=first",
      "DB_NAME=from-config",
    ]);
    expect(set.stdout).toContain(`skiff: ${app}: MOTTO, GREETING, DB_NAME changed`);
    expect(set.stdout).toContain("no release is live yet; the next push or deploy uses it");
    expect((await listRuns(sandbox, app)).map((r) => r.number)).toEqual([1]);

    const second = await push("v2");
    expect(second.code, gitOutput(second)).toBe(0);
    expect(await getThroughEdge(sandbox.edgePort, host, "/cgi-bin/greeting")).toEqual({
      status: 200,
      body: "first",
    });
    for (const vars of await webEnvironments()) {
      expect(vars).toMatchObject({ MOTTO: "carpe diem", GREETING: "first", ECHOED: "none" });
    }
    // db runs a given image: only what its spec names reaches it, the config over .env.
    const [db] = await onlyRunning("db", 1);
    const dbVars = await processEnvironment(docker, db as string);
    expect(dbVars.DB_NAME).toBe("from-config");
    expect(dbVars).not.toHaveProperty("MOTTO");
    expect(dbVars).not.toHaveProperty("GREETING");
  });

  it("carries an awkward value byte for byte from the command line into the containers", async () => {
    const before = await liveRelease();
    // One argv element, no shell in between (execFile).
    const set = await skiffOk(sandbox, ["config:set", app, `SECRET=${AWKWARD}`]);
    expect(set.stdout).toContain(`skiff: ${app}: SECRET changed`);
    // Nothing rebuilt, nothing retested: the live release's images run on.
    expect(set.stdout).toContain(`a config change: every image is r${before}'s`);
    // The value is never echoed back into the run's log.
    expect(set.stdout + set.stderr).not.toContain("p@ss");
    expect(await liveRelease()).toBe(before + 1);

    for (const vars of await webEnvironments()) {
      expect(vars.SECRET).toBe(AWKWARD);
      // The compose file's ${SECRET} is replaced once: its $ signs stay.
      expect(vars.ECHOED).toBe(AWKWARD);
    }
    const [db] = await onlyRunning("db", 1);
    expect(await processEnvironment(docker, db as string)).not.toHaveProperty("SECRET");

    const get = await skiffOk(sandbox, ["config:get", app, "SECRET"]);
    expect(get.stdout).toBe(`${AWKWARD}\n`);
    expect((await config()).app.SECRET).toBe(AWKWARD);
  });

  it("rolls a config change out under load through the edge without failing a request", async () => {
    const load = boundedLoad(sandbox.edgePort, "/cgi-bin/greeting", 20);
    const set = await skiff(sandbox, ["config:set", app, "GREETING=second"]);
    // Keep the load on a moment after the switch, while the old replicas drain.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const { sent, failures, bodies } = await load.stop();
    expect(set.code, set.stdout + set.stderr).toBe(0);
    expect(sent).toBeGreaterThan(20);
    expect(failures, `${failures.length} of ${sent} requests failed`).toEqual([]);
    expect([...bodies].sort()).toEqual(["first", "second"]);
    expect(await getThroughEdge(sandbox.edgePort, host, "/cgi-bin/greeting")).toEqual({
      status: 200,
      body: "second",
    });
  });

  it("replaces only the services whose environment the change alters", async () => {
    const webBefore = await onlyRunning("web", 2);
    const [dbBefore] = await onlyRunning("db", 1);

    // App-wide: into web's environment (built from the repository), not db's.
    const appWide = await skiffOk(sandbox, ["config:set", app, "LEVEL=3"]);
    expect(appWide.stdout).toContain(
      "[db] unchanged (same image and settings): its 1 running replica(s) stay",
    );
    const webAfter = await onlyRunning("web", 2);
    expect(webAfter.filter((id) => webBefore.includes(id))).toEqual([]);
    expect(await onlyRunning("db", 1)).toEqual([dbBefore]);
    for (const vars of await webEnvironments()) expect(vars.LEVEL).toBe("3");
    expect(await processEnvironment(docker, dbBefore as string)).not.toHaveProperty("LEVEL");
    configWithLevel = await config();

    // For db alone: db is replaced and gets it, web keeps its replicas.
    const forDb = await skiffOk(sandbox, ["config:set", app, "DB_TUNING=fast", "--service", "db"]);
    expect(forDb.stdout).toContain(`skiff: ${app} (service db): DB_TUNING changed`);
    const [dbAfter] = await onlyRunning("db", 1);
    expect(dbAfter).not.toBe(dbBefore);
    expect(await onlyRunning("web", 2)).toEqual(webAfter);
    expect(await processEnvironment(docker, dbAfter as string)).toMatchObject({
      DB_TUNING: "fast",
      DB_NAME: "from-config",
    });
    for (const vars of await webEnvironments()) expect(vars).not.toHaveProperty("DB_TUNING");
    expect(
      (await skiffOk(sandbox, ["config:get", app, "DB_TUNING", "--service", "db"])).stdout,
    ).toBe("fast\n");
    expect((await config()).services).toEqual({ db: { DB_TUNING: "fast" } });
  });

  it("brings a release's config back on rollback, and an unset survives a server restart", async () => {
    const target = (await liveRelease()) - 1;
    const rollback = await skiffOk(sandbox, ["rollback", app]);
    expect(rollback.stdout).toContain(`the app's config is r${target}'s again`);
    expect(await config()).toEqual(configWithLevel);
    const [db] = await onlyRunning("db", 1);
    expect(await processEnvironment(docker, db as string)).not.toHaveProperty("DB_TUNING");

    const unset = await skiffOk(sandbox, ["config:unset", app, "LEVEL"]);
    expect(unset.stdout).toContain(`skiff: ${app}: LEVEL changed`);
    for (const vars of await webEnvironments()) expect(vars).not.toHaveProperty("LEVEL");

    server.kill("SIGTERM");
    await waitFor(
      "the server to exit",
      () => server.exitCode !== null || server.signalCode !== null,
      20_000,
    );
    server = await startForegroundServer(sandbox);

    expect((await config()).app).not.toHaveProperty("LEVEL");
    const get = await skiff(sandbox, ["config:get", app, "LEVEL"]);
    expect(get.code).not.toBe(0);
    expect(get.stderr).toContain(`LEVEL is not set for ${app}`);
    await onlyRunning("web", 2);
    for (const vars of await webEnvironments()) expect(vars).not.toHaveProperty("LEVEL");
  });

  it("stores a --no-restart change without a run, and the next push applies it", async () => {
    const runsBefore = (await listRuns(sandbox, app)).length;
    const release = await liveRelease();
    const stored = await skiffOk(sandbox, ["config:set", app, "NOTE=later", "--no-restart"]);
    expect(stored.stdout).toContain(
      "stored without a new release (--no-restart); the next release uses it",
    );
    expect((await config()).app.NOTE).toBe("later");
    expect(await listRuns(sandbox, app)).toHaveLength(runsBefore);
    expect(await liveRelease()).toBe(release);
    for (const vars of await webEnvironments()) expect(vars).not.toHaveProperty("NOTE");

    const pushed = await push("v3");
    expect(pushed.code, gitOutput(pushed)).toBe(0);
    expect(await getThroughEdge(sandbox.edgePort, host, "/")).toEqual({
      status: 200,
      body: "web v3\n",
    });
    for (const vars of await webEnvironments()) {
      expect(vars).toMatchObject({ NOTE: "later", GREETING: "second", SECRET: AWKWARD });
      expect(vars).not.toHaveProperty("LEVEL");
    }
  });

  it("keeps a push's code when a config change arrives while the push builds", async () => {
    const pushed = await commit("v4", { slowBuild: true });
    const remote = `http://x:${readToken(sandbox)}@127.0.0.1:${sandbox.apiPort}/git/${app}.git`;
    const pushing = startGit(["push", "--progress", remote, "main"], { cwd: dir, env });
    await waitFor(
      "the push to build web",
      () => pushing.lines.some((l) => l.text.includes("[web] building")),
      60_000,
    );
    const set = await skiff(sandbox, ["config:set", app, "RACE=1"]);
    const result = await pushing.result;
    expect(result.code, gitOutput(result)).toBe(0);
    expect(set.code, set.stdout + set.stderr).toBe(0);
    // Both land: the pushed code, with the new config.
    expect(await getThroughEdge(sandbox.edgePort, host, "/")).toEqual({
      status: 200,
      body: "web v4\n",
    });
    expect((await live()).commit).toBe(pushed);
    for (const vars of await webEnvironments()) expect(vars.RACE).toBe("1");
  });
});
