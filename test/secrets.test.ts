// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the compose file holds Compose interpolation syntax, written literally
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pruneBuildCacheByToken } from "./support/build-cache.js";
import { ensureTestImage, TEST_IMAGE, testDocker } from "./support/busybox-image.js";
import { getThroughEdge } from "./support/deploy-app.js";
import { type GitResult, gitOk, isolatedGitEnv } from "./support/git-cli.js";
import {
  commitFiles,
  gitOutput,
  listRuns,
  pushToSandbox,
  removeAppImages,
  writeFiles,
} from "./support/pipeline-app.js";
import { execStdout, processEnvironment, runningReplicas } from "./support/replicas.js";
import {
  answers,
  type CliResult,
  createSandbox,
  destroySandbox,
  filesUnder,
  readToken,
  type SkiffSandbox,
  skiff,
  skiffOk,
  startBackgroundServer,
  waitFor,
} from "./support/skiff-harness.js";

/**
 * Secret config vars (`skiff config:set --secret`), end to end against a
 * real server started the way users start it (`skiff server start`, so it
 * writes $SKIFF_HOME/logs/server.log), the real Docker Engine, registry and
 * HAProxy edge. One app runs through the cases in order:
 *
 * - `web` is built from the repository and serves behind the edge; it gets
 *   the app-wide vars, and three Compose secrets: `db_password` from a file
 *   of the repository, `api_key` from the config var API_TOKEN and
 *   `session_key` from the repository's .env (both `environment:`).
 * - `worker` is the same image with no replica until a case scales it up;
 *   its Docker healthcheck prints the token and fails, so every replica the
 *   platform starts for it fails with the secret in its reason.
 *
 * Where a secret could show, the test looks for every form an app or a tool
 * prints it in (the value, its base64, URL and JSON escapings, each line of
 * a multi-line one), and for the `[secret NAME]` marker that proves the
 * value was there and was taken out.
 */

const app = `sk${randomBytes(3).toString("hex")}`;
const host = `${app}.localhost`;

/** A secret with the bytes a shell, JSON or a URL escapes: spaces, quotes, `/`, `+`, `=`, `&`, non-ASCII. */
const TOKEN = `tok/${randomBytes(6).toString("hex")}+p@ss w=rd&"q" ü`;
/** A multi-line secret (a PEM key): logs arrive a line at a time. */
const KEY_LINES = [
  "-----BEGIN TEST KEY-----",
  `MIIB${randomBytes(12).toString("hex")}`,
  `QUJD${randomBytes(12).toString("hex")}`,
  "-----END TEST KEY-----",
];
const TLS_KEY = KEY_LINES.join("\n");
/** The content of the Compose secret db_password, a file of the repository. */
const FILE_SECRET = `filepw-${randomBytes(8).toString("hex")}`;
/** The Compose secret session_key's value, from the repository's .env (not the config). */
const DOTENV_SECRET = `dotenv-${randomBytes(8).toString("hex")}`;
/** An ordinary var: stored as it is, so it shows where a grep of the raw bytes looks. */
const PLAIN = `plain-${randomBytes(8).toString("hex")}`;

/** Every printed form of every secret, by a name for the failure message. */
const FORMS: Record<string, string> = {
  API_TOKEN: TOKEN,
  "API_TOKEN (base64)": Buffer.from(TOKEN).toString("base64"),
  "API_TOKEN (base64url)": Buffer.from(TOKEN).toString("base64url"),
  "API_TOKEN (URL-encoded)": encodeURIComponent(TOKEN),
  "API_TOKEN (JSON-escaped)": JSON.stringify(TOKEN).slice(1, -1),
  "TLS_KEY line 2": KEY_LINES[1] as string,
  "TLS_KEY line 3": KEY_LINES[2] as string,
  "TLS_KEY (base64)": Buffer.from(TLS_KEY).toString("base64").slice(0, 40),
  "db_password (Compose secret file)": FILE_SECRET,
  "session_key (Compose secret from .env)": DOTENV_SECRET,
};

/** The names of the forms `text` (or raw bytes, as UTF-8) holds: [] when no secret shows. */
function leaks(text: string | Buffer): string[] {
  return Object.entries(FORMS)
    .filter(([, form]) => text.includes(form))
    .map(([name]) => name);
}

/**
 * The app at `version`. `leaky` makes web print its secrets at start (the
 * token, its base64, the PEM key, two Compose secrets), then run httpd with a
 * Docker healthcheck that fails printing the token: the deploy fails with
 * the check's output as its reason and the container's log in the push.
 * `buildArgs` hands the token to the builds as build args.
 */
function files(
  version: string,
  options: { leaky?: boolean; buildArgs?: boolean } = {},
): Record<string, string> {
  const build = options.buildArgs
    ? ["    build:", "      context: .", "      args: [API_TOKEN]"]
    : ["    build: ."];
  const web = options.leaky
    ? [
        "    healthcheck:",
        '      test: ["CMD", "sh", "/app/web-health.sh"]',
        "      interval: 250ms",
        "      timeout: 2s",
        "      retries: 1",
        "    x-skiff: { port: 8080 }",
      ]
    : ["    x-skiff: { port: 8080, health: { path: /, interval: 250ms, timeout: 15s } }"];
  return {
    "compose.yaml": [
      "services:",
      "  web:",
      ...build,
      '    command: ["sh", "/app/start.sh"]',
      "    secrets: [db_password, api_key, session_key]",
      "    stop_grace_period: 1s",
      ...web,
      "  worker:",
      ...(options.buildArgs
        ? ["    build:", "      context: .", "      args: { TOKEN_ARG: 'Bearer ${API_TOKEN}' }"]
        : ["    build: ."]),
      '    command: ["sleep", "3600"]',
      "    deploy: { replicas: 0 }",
      "    stop_grace_period: 1s",
      "    healthcheck:",
      '      test: ["CMD", "sh", "/app/worker-health.sh"]',
      "      interval: 250ms",
      "      timeout: 2s",
      "      retries: 1",
      "secrets:",
      "  db_password: { file: ./db_password.txt }",
      "  api_key: { environment: API_TOKEN }",
      "  session_key: { environment: SESSION_KEY }",
      "",
    ].join("\n"),
    "db_password.txt": `${FILE_SECRET}\n`,
    ".env": `SESSION_KEY=${DOTENV_SECRET}\n`,
    Dockerfile: [`FROM ${TEST_IMAGE}`, "COPY app /app", "COPY www /www", ""].join("\n"),
    "www/index.html": `web ${version}\n`,
    "app/start.sh": [
      ...(options.leaky
        ? [
            'echo "starting with token $API_TOKEN"',
            // printf, not echo: the base64 of the value alone, without a newline.
            'echo "as base64: $(printf %s "$API_TOKEN" | busybox base64 -w 0)"',
            'printf "%s\\n" "$TLS_KEY"',
            'echo "db password: $(cat /run/secrets/db_password)"',
            'echo "session key: $(cat /run/secrets/session_key)"',
          ]
        : []),
      "exec httpd -f -p 8080 -h /www",
      "",
    ].join("\n"),
    "app/web-health.sh": 'echo "unhealthy: the upstream refused token $API_TOKEN"\nexit 1\n',
    "app/worker-health.sh": 'echo "worker cannot log in with $API_TOKEN"\nexit 1\n',
  };
}

describe("secret config vars: sealed at rest, masked in answers, scrubbed from every output", () => {
  let sandbox: SkiffSandbox;
  let root: string;
  let env: NodeJS.ProcessEnv;
  let dir: string;
  let token: string;
  const docker = testDocker();

  beforeAll(async () => {
    await ensureTestImage(docker);
    sandbox = await createSandbox();
    await startBackgroundServer(sandbox);
    token = readToken(sandbox);
    root = mkdtempSync(join(tmpdir(), "skiff-secrets-"));
    env = isolatedGitEnv(join(root, "home"));
    dir = join(root, app);
    mkdirSync(dir, { recursive: true });
    await gitOk(["init", "--quiet", "--initial-branch=main"], { cwd: dir, env });
    await skiffOk(sandbox, ["apps:create", app]);
    // No release is live yet: stored only, the first push uses them.
    await skiffOk(sandbox, [
      "config:set",
      app,
      "--secret",
      `API_TOKEN=${TOKEN}`,
      `TLS_KEY=${TLS_KEY}`,
    ]);
    await skiffOk(sandbox, ["config:set", app, `PLAIN=${PLAIN}`]);
    const first = await push("v1");
    expect(first.code, gitOutput(first)).toBe(0);
  });

  afterAll(async () => {
    if (sandbox) {
      // `server stop --all` (the server by its pid file, then the registry and the edge).
      await destroySandbox(sandbox);
      await removeAppImages(docker, `127.0.0.1:${sandbox.registryPort}`, app);
      await pruneBuildCacheByToken(docker, app);
    }
    if (root) rmSync(root, { recursive: true, force: true });
  });

  async function push(
    version: string,
    options: Parameters<typeof files>[1] = {},
  ): Promise<GitResult> {
    writeFiles(dir, files(version, options));
    await commitFiles(dir, {}, version, env);
    return pushToSandbox(sandbox, app, dir, env);
  }

  /** GET an API path with the admin token: the status and the body as text. */
  async function api(path: string): Promise<{ status: number; body: string }> {
    const response = await fetch(`${sandbox.apiUrl}${path}`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(10_000),
    });
    return { status: response.status, body: await response.text() };
  }

  /** The server's log, every rotated file included. */
  function serverLog(): string {
    const logs = join(sandbox.home, "logs");
    return readdirSync(logs)
      .filter((name) => name.startsWith("server.log"))
      .map((name) => readFileSync(join(logs, name), "utf8"))
      .join("\n");
  }

  async function releases(): Promise<[number, string][]> {
    const { releases } = JSON.parse(
      (await skiffOk(sandbox, ["releases", app, "--json"])).stdout,
    ) as {
      releases: { number: number; status: string }[];
    };
    return releases.map((r) => [r.number, r.status]);
  }

  it("masks secrets in skiff config and config:get, and shows them with --reveal", async () => {
    const shown = await skiffOk(sandbox, ["config", app]);
    expect(shown.stdout).toMatch(/^API_TOKEN +\[secret\]$/m);
    expect(shown.stdout).toMatch(/^TLS_KEY +\[secret\]$/m);
    expect(shown.stdout).toMatch(new RegExp(`^PLAIN +${PLAIN}$`, "m"));
    expect(leaks(shown.stdout + shown.stderr)).toEqual([]);

    const json = JSON.parse((await skiffOk(sandbox, ["config", app, "--json"])).stdout);
    expect(json).toEqual({
      app: { API_TOKEN: null, TLS_KEY: null, PLAIN },
      services: {},
      secret: ["API_TOKEN", "TLS_KEY"],
    });

    const masked = await skiff(sandbox, ["config:get", app, "API_TOKEN"]);
    expect(masked.code).toBe(1);
    expect(masked.stdout).toBe("");
    expect(masked.stderr).toContain(`API_TOKEN of ${app} is a secret`);
    expect(masked.stderr).toContain(`skiff config:get ${app} API_TOKEN --reveal`);
    expect(leaks(masked.stderr)).toEqual([]);
    const forbidden = await api(`/api/v1/apps/${app}/config/API_TOKEN`);
    expect(forbidden.status).toBe(403);
    expect(leaks(forbidden.body)).toEqual([]);

    expect((await skiffOk(sandbox, ["config:get", app, "API_TOKEN", "--reveal"])).stdout).toBe(
      `${TOKEN}\n`,
    );
    expect((await skiffOk(sandbox, ["config:get", app, "TLS_KEY", "--reveal"])).stdout).toBe(
      `${TLS_KEY}\n`,
    );
    // An ordinary var needs no --reveal.
    expect((await skiffOk(sandbox, ["config:get", app, "PLAIN"])).stdout).toBe(`${PLAIN}\n`);
    const revealed = JSON.parse(
      (await skiffOk(sandbox, ["config", app, "--json", "--reveal"])).stdout,
    );
    expect(revealed.app).toEqual({ API_TOKEN: TOKEN, TLS_KEY, PLAIN });
    expect((await skiffOk(sandbox, ["config", app, "--reveal"])).stdout).toContain(
      FORMS["API_TOKEN (JSON-escaped)"],
    );

    // Too short to tell apart from ordinary text when scrubbed: refused, nothing stored.
    const short = await skiff(sandbox, ["config:set", app, "--secret", "PIN=123", "--no-restart"]);
    expect(short.code).toBe(1);
    expect(short.stderr).toContain("the secret PIN is shorter than 4 characters");
    expect(
      JSON.parse((await skiffOk(sandbox, ["config", app, "--json"])).stdout).app,
    ).not.toHaveProperty("PIN");

    // Once secret, set again without --secret: still a secret; unset ends it.
    await skiffOk(sandbox, ["config:set", app, "--secret", "ROTATING=first-value", "--no-restart"]);
    await skiffOk(sandbox, ["config:set", app, "ROTATING=second-value", "--no-restart"]);
    const again = JSON.parse((await skiffOk(sandbox, ["config", app, "--json"])).stdout);
    expect(again.app.ROTATING).toBeNull();
    expect(again.secret).toContain("ROTATING");
    expect((await skiff(sandbox, ["config:get", app, "ROTATING"])).code).toBe(1);
    expect((await skiffOk(sandbox, ["config:get", app, "ROTATING", "--reveal"])).stdout).toBe(
      "second-value\n",
    );
    await skiffOk(sandbox, ["config:unset", app, "ROTATING", "--no-restart"]);
    await skiffOk(sandbox, ["config:set", app, "ROTATING=plain-now", "--no-restart"]);
    expect((await skiffOk(sandbox, ["config:get", app, "ROTATING"])).stdout).toBe("plain-now\n");
    await skiffOk(sandbox, ["config:unset", app, "ROTATING", "--no-restart"]);
  });

  it("keeps no secret in the database or the release files, and gives the container the exact bytes", async () => {
    const database = [join(sandbox.home, "skiff.db"), join(sandbox.home, "skiff.db-wal")]
      .filter((file) => existsSync(file))
      .map((file) => readFileSync(file));
    const raw = Buffer.concat(database);
    // The grep finds what is stored as it is: the ordinary var is there.
    expect(raw.includes(PLAIN)).toBe(true);
    for (const [name, form] of Object.entries(FORMS)) {
      expect(raw.includes(form), `${name} in skiff.db`).toBe(false);
    }
    expect(raw.includes("sealed:v1:")).toBe(true);

    // r1's files: web's two Compose secrets, in one archive, sealed.
    const archives = filesUnder(join(sandbox.home, "releases"));
    expect(archives.map((f) => f.path.slice(sandbox.home.length))).toContain(
      `/releases/${app}/r1/web.tar`,
    );
    for (const { path, bytes } of archives) {
      expect(bytes.subarray(0, 10).toString("latin1"), path).toBe("sealed:v1:");
      for (const [name, form] of Object.entries(FORMS)) {
        expect(bytes.includes(form), `${name} in ${path}`).toBe(false);
      }
      expect(statSync(path).mode & 0o777, path).toBe(0o600);
    }
    expect(statSync(join(sandbox.home, "secret-key")).mode & 0o777).toBe(0o600);

    const [web] = await runningReplicas(docker, sandbox, app, "web");
    expect(web, "a running web replica").toBeDefined();
    const vars = await processEnvironment(docker, web?.Id as string);
    expect(vars.API_TOKEN).toBe(TOKEN);
    expect(vars.TLS_KEY).toBe(TLS_KEY);
    expect(vars.PLAIN).toBe(PLAIN);
    expect(await execStdout(docker, web?.Id as string, ["cat", "/run/secrets/api_key"])).toEqual(
      Buffer.from(TOKEN),
    );
    expect(
      await execStdout(docker, web?.Id as string, ["cat", "/run/secrets/db_password"]),
    ).toEqual(Buffer.from(`${FILE_SECRET}\n`));
    expect(
      await execStdout(docker, web?.Id as string, ["cat", "/run/secrets/session_key"]),
    ).toEqual(Buffer.from(DOTENV_SECRET));
  });

  it("scrubs a secret the app prints from the push, the run's logs and reason, events, the server log and the API; the previous release keeps serving", async () => {
    const failed = await push("v2", { leaky: true });
    const output = gitOutput(failed);
    expect(failed.code, output).not.toBe(0);
    // Where each value was, its marker: the log lines and the health check's output.
    expect(output).toContain("| starting with token [secret API_TOKEN]");
    expect(output).toContain("| as base64: [secret API_TOKEN]");
    expect(output).toContain("| [secret TLS_KEY]");
    expect(output).toContain("| db password: [secret db_password]");
    expect(output).toContain("| session key: [secret session_key]");
    expect(output).toMatch(
      /deploy failed: replica 1 of r2: .*unhealthy: the upstream refused token \[secret API_TOKEN\]/,
    );
    expect(output).toContain("the previous release keeps serving");
    expect(leaks(output)).toEqual([]);

    expect(await getThroughEdge(sandbox.edgePort, host, "/")).toEqual({
      status: 200,
      body: "web v1\n",
    });
    expect(await releases()).toEqual([
      [2, "failed"],
      [1, "live"],
    ]);

    const [run] = await listRuns(sandbox, app);
    expect(run?.status).toBe("failed");
    expect(run?.reason).toContain("token [secret API_TOKEN]");

    // The run's journal and stage logs on disk, as every later reader gets them.
    const journal = filesUnder(join(sandbox.home, "runs"));
    expect(journal.length).toBeGreaterThan(0);
    const onDisk = journal.map((f) => f.bytes.toString("utf8")).join("\n");
    expect(onDisk).toContain("[secret API_TOKEN]");
    expect(leaks(onDisk)).toEqual([]);

    const cli = [
      await skiffOk(sandbox, ["runs", app]),
      await skiffOk(sandbox, ["runs", app, "--json"]),
      await skiffOk(sandbox, ["runs:show", app, String(run?.number), "--json"]),
      await skiffOk(sandbox, ["runs:logs", app, String(run?.number)]),
      await skiffOk(sandbox, ["events", "--json"]),
      await skiffOk(sandbox, ["config", app]),
      await skiffOk(sandbox, ["config", app, "--json"]),
      await skiffOk(sandbox, ["releases", app, "--json"]),
      await skiffOk(sandbox, ["ps", app, "--json"]),
      await skiffOk(sandbox, ["apps:info", app]),
    ];
    const printed = cli.map((r) => r.stdout + r.stderr).join("\n");
    expect(printed).toContain("| as base64: [secret API_TOKEN]");
    expect(leaks(printed)).toEqual([]);

    const paths = [
      `/api/v1/apps/${app}/config`,
      `/api/v1/apps/${app}/runs`,
      `/api/v1/apps/${app}/runs/${run?.number}`,
      `/api/v1/apps/${app}/runs/${run?.number}/log`,
      `/api/v1/apps/${app}/runs/${run?.number}/events`,
      `/api/v1/apps/${app}/releases`,
      `/api/v1/apps/${app}`,
      `/api/v1/apps/${app}/ps`,
      "/api/v1/events",
      "/api/v1/status",
    ];
    for (const path of paths) {
      const answer = await api(path);
      expect(answer.status, path).toBe(200);
      expect(leaks(answer.body), path).toEqual([]);
    }
    // An error that echoes what it was sent: the value in it is scrubbed too.
    const echoed = await api(`/api/v1/apps/${app}/config/${encodeURIComponent(TOKEN)}`);
    expect(echoed.status).toBe(404);
    expect(echoed.body).toContain("[secret API_TOKEN] is not set");
    expect(leaks(echoed.body)).toEqual([]);

    expect(leaks(serverLog())).toEqual([]);

    // And no other file Skiff keeps shows one (the repositories hold what was pushed, the file secret too).
    const kept = filesUnder(sandbox.home).filter(
      (f) => !f.path.startsWith(join(sandbox.home, "repos")),
    );
    const found = kept.flatMap((f) => leaks(f.bytes).map((n) => `${n} in ${f.path}`));
    expect(found).toEqual([]);
  });

  it("scrubs it from skiff scale and restart, skiff events and the server log when a replica the platform starts prints it", async () => {
    // worker's healthcheck fails printing the token: the new replica never gets healthy.
    let scaled: CliResult;
    let restarted: CliResult;
    try {
      scaled = await skiff(sandbox, ["scale", app, "worker=1"]);
      restarted = await skiff(sandbox, ["restart", app, "worker"]);
      // The reconciler tries again at its next pass and logs why it failed.
      await waitFor(
        "the reconciler to log the worker's failed start",
        () => /reconcile: .*worker.*did not start/.test(serverLog()),
        30_000,
      );
    } finally {
      await skiffOk(sandbox, ["scale", app, "worker=0"]);
    }

    const events = await skiffOk(sandbox, ["events", "--json"]);
    const outputs = {
      "skiff scale": scaled.stdout + scaled.stderr,
      "skiff restart": restarted.stdout + restarted.stderr,
      "skiff events": events.stdout,
      "server.log": serverLog(),
    };
    // Each one holds the failure, so each one had the value to show.
    expect(outputs["skiff scale"]).toContain("worker cannot log in with");
    expect(restarted.code).toBe(1);
    expect(outputs["skiff restart"]).toContain("worker cannot log in with");
    expect(outputs["skiff events"]).toMatch(
      /worker: replica 1 of r1 did not start: .*worker cannot log in with \[secret API_TOKEN\]/,
    );
    expect(outputs["server.log"]).toContain("worker cannot log in with [secret API_TOKEN]");
    const leaked = Object.fromEntries(
      Object.entries(outputs).map(([where, text]) => [where, leaks(text)]),
    );
    const lines = Object.values(outputs).flatMap((text) =>
      text.split("\n").filter((line) => leaks(line).length > 0),
    );
    expect(leaked, lines.join("\n")).toEqual({
      "skiff scale": [],
      "skiff restart": [],
      "skiff events": [],
      "server.log": [],
    });

    expect(await getThroughEdge(sandbox.edgePort, host, "/")).toEqual({
      status: 200,
      body: "web v1\n",
    });
  });

  it("refuses a secret config var as a build arg, by name and never by value", async () => {
    const before = await releases();
    const refused = await push("v3", { buildArgs: true });
    const output = gitOutput(refused);
    expect(refused.code, output).not.toBe(0);
    expect(output).toContain(
      "services.web.build.args.API_TOKEN would carry the secret API_TOKEN into the image",
    );
    expect(output).toContain(
      "services.worker.build.args.TOKEN_ARG would carry the secret API_TOKEN into the image",
    );
    expect(leaks(output)).toEqual([]);
    const [run] = await listRuns(sandbox, app);
    expect(run?.status).toBe("failed");
    expect(run?.reason).toBe("source failed: a secret config var is used to make an image");
    // Nothing was built or published.
    expect(run?.stages.find((s) => s.name === "build")?.status).toBe("skipped");
    expect(await releases()).toEqual(before);
    expect(await getThroughEdge(sandbox.edgePort, host, "/")).toEqual({
      status: 200,
      body: "web v1\n",
    });
  });

  it("refuses to start with another key file or none, and starts again with the original", async () => {
    const keyFile = join(sandbox.home, "secret-key");
    const original = readFileSync(keyFile);
    expect(Buffer.from(original.toString("utf8").trim(), "base64")).toHaveLength(32);
    expect((await skiffOk(sandbox, ["server", "stop"])).stdout).toContain("skiff server stopped");
    const notServing = async () => (await answers(`${sandbox.apiUrl}/api/v1/healthz`))?.ok !== true;
    expect(await notServing()).toBe(true);

    try {
      // Another valid key: 32 random bytes, base64, as Skiff writes one.
      writeFileSync(keyFile, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
      const wrong = await skiff(sandbox, ["server", "start"]);
      expect(wrong.code, wrong.stdout + wrong.stderr).toBe(1);
      expect(wrong.stderr).toContain("skiff server did not start");
      expect(wrong.stderr).toContain("is not the key this database's secrets were sealed with");
      expect(leaks(wrong.stdout + wrong.stderr)).toEqual([]);
      expect(await notServing()).toBe(true);

      rmSync(keyFile);
      const missing = await skiff(sandbox, ["server", "start"]);
      expect(missing.code, missing.stdout + missing.stderr).toBe(1);
      expect(missing.stderr).toContain(
        "is missing, and this database holds secrets sealed with a key",
      );
      expect(await notServing()).toBe(true);
      // Refused before writing a new key, which would lose the secrets for good.
      expect(existsSync(keyFile)).toBe(false);
    } finally {
      writeFileSync(keyFile, original, { mode: 0o600 });
      chmodSync(keyFile, 0o600);
    }
    // The edge served on while the control plane was down.
    expect(await getThroughEdge(sandbox.edgePort, host, "/")).toEqual({
      status: 200,
      body: "web v1\n",
    });

    await startBackgroundServer(sandbox);
    expect((await skiffOk(sandbox, ["config:get", app, "API_TOKEN", "--reveal"])).stdout).toBe(
      `${TOKEN}\n`,
    );
    expect((await skiffOk(sandbox, ["config:get", app, "TLS_KEY", "--reveal"])).stdout).toBe(
      `${TLS_KEY}\n`,
    );
    expect(leaks(serverLog())).toEqual([]);
  });
});
