import { execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOOK_ENV, PRE_RECEIVE_PATH, parsePushForm } from "./hook-protocol.js";
import { PRE_RECEIVE_HOOK_FILE } from "./repositories.js";

/**
 * The hook script as git runs it (sh, in the repository, ref updates on
 * stdin), against a stand-in for the server's hook route on 127.0.0.1.
 */

const TOKEN = "hookToken_0123456789-abcdefghijklmnopqrstuv";
const ZERO = "0".repeat(40);
const A = "a".repeat(40);
const ODD_REF = 'refs/heads/it\'s-"quoted"-$(>pwned)-`id`;&|<>';

interface SeenRequest {
  method?: string;
  url?: string;
  headers: IncomingMessage["headers"];
  body: string;
}

type Answer = (response: ServerResponse, request: SeenRequest) => void | Promise<void>;

/** An answer written in chunks, as the route streams one. */
const chunks =
  (...parts: string[]): Answer =>
  (response) => {
    response.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
    for (const part of parts) response.write(part);
    response.end();
  };

interface HookRun {
  code: number | null;
  stderr: string;
}

describe("the pre-receive hook script", () => {
  let root: string;
  let repo: string;
  let server: Server;
  let url: string;
  let answer: Answer = chunks("::skiff-result ok\n");
  const seen: SeenRequest[] = [];
  /** Set by a test to learn what the hook has printed so far. */
  let onStderr: (text: string) => void = () => {};

  beforeAll(async () => {
    // Spaces, quotes and shell syntax in the repository's path.
    root = mkdtempSync(join(tmpdir(), `skiff hook it's "odd" $(false) `));
    repo = join(root, "shop.git");
    mkdirSync(repo);
    server = createServer((request, response) => {
      let body = "";
      request.setEncoding("utf8");
      request.on("data", (chunk: string) => {
        body += chunk;
      });
      request.on("end", () => {
        const record = { method: request.method, url: request.url, headers: request.headers, body };
        seen.push(record);
        void answer(response, record);
      });
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${PRE_RECEIVE_PATH}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
    rmSync(root, { recursive: true, force: true });
  });

  const hookEnv = (overrides: Record<string, string> = {}): Record<string, string> => ({
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    [HOOK_ENV.url]: url,
    [HOOK_ENV.token]: TOKEN,
    [HOOK_ENV.app]: "shop",
    // What receive-pack sets for a hook in a bare repository during a push.
    GIT_DIR: ".",
    GIT_QUARANTINE_PATH: join(repo, "objects", "tmp_objdir-incoming-Ab12"),
    GIT_OBJECT_DIRECTORY: join(repo, "objects", "tmp_objdir-incoming-Ab12"),
    GIT_ALTERNATE_OBJECT_DIRECTORIES: join(repo, "objects"),
    ...overrides,
  });

  function runHook(
    options: { env?: Record<string, string>; stdin?: string; cwd?: string } = {},
  ): Promise<HookRun> {
    return new Promise((resolve, reject) => {
      const child = spawn("/bin/sh", [PRE_RECEIVE_HOOK_FILE], {
        cwd: options.cwd ?? repo,
        env: options.env ?? hookEnv(),
        stdio: ["pipe", "pipe", "pipe"],
      });
      let stderr = "";
      child.stderr.setEncoding("utf8");
      child.stderr.on("data", (text: string) => {
        stderr += text;
        onStderr(stderr);
      });
      child.once("error", reject);
      // A hook that refuses early exits without reading its input.
      child.stdin.on("error", (error: NodeJS.ErrnoException) => {
        if (error.code !== "EPIPE") reject(error);
      });
      child.once("close", (code) => resolve({ code, stderr }));
      child.stdin.end(options.stdin ?? `${ZERO} ${A} refs/heads/main\n`);
    });
  }

  it("sends the push as a form with the token, and accepts it on an ok verdict", async () => {
    answer = chunks("skiff: build", "ing web\nskiff: testing\n", "::skiff-result ok\n");
    const before = seen.length;
    const run = await runHook({ stdin: `${ZERO} ${A} refs/heads/main\n${A} ${ZERO} ${ODD_REF}\n` });
    expect(run).toEqual({ code: 0, stderr: "skiff: building web\nskiff: testing\n" });

    const request = seen[before];
    expect(request?.method).toBe("POST");
    expect(request?.url).toBe(PRE_RECEIVE_PATH);
    expect(request?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(request?.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(parsePushForm(new URLSearchParams(request?.body))).toEqual({
      app: "shop",
      gitDir: repo,
      updates: [
        { oldSha: ZERO, newSha: A, ref: "refs/heads/main" },
        { oldSha: A, newSha: ZERO, ref: ODD_REF },
      ],
      quarantine: {
        GIT_QUARANTINE_PATH: join(repo, "objects", "tmp_objdir-incoming-Ab12"),
        GIT_OBJECT_DIRECTORY: join(repo, "objects", "tmp_objdir-incoming-Ab12"),
        GIT_ALTERNATE_OBJECT_DIRECTORIES: join(repo, "objects"),
      },
    });
  });

  it("prints each progress line while the run goes on, not when it ends", async () => {
    let firstSeen = () => {};
    const printed = new Promise<void>((done) => {
      firstSeen = done;
    });
    onStderr = (text) => {
      if (text.includes("skiff: building web\n")) firstSeen();
    };
    // The verdict is sent only once the first line has reached the hook's stderr.
    answer = async (response) => {
      response.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
      response.write("skiff: building web\n");
      const shown = await Promise.race([
        printed.then(() => true),
        new Promise<boolean>((done) => setTimeout(() => done(false), 5_000)),
      ]);
      response.end(shown ? "skiff: deployed\n::skiff-result ok\n" : "::skiff-result failed late\n");
    };
    try {
      expect(await runHook()).toEqual({
        code: 0,
        stderr: "skiff: building web\nskiff: deployed\n",
      });
    } finally {
      onStderr = () => {};
    }
  });

  const verdicts: { name: string; parts: string[]; code: number; stderr: RegExp | string }[] = [
    {
      name: "a failed verdict rejects the push with its reason",
      parts: ["skiff: testing\n", "::skiff-result failed the tests failed\n"],
      code: 1,
      stderr: "skiff: testing\nskiff: push rejected: the tests failed\n",
    },
    {
      name: "a failed verdict without a reason, and without a final newline",
      parts: ["::skiff-result failed"],
      code: 1,
      stderr: "skiff: push rejected: the pipeline failed\n",
    },
    {
      name: "an escaped line that imitates a verdict is printed, not taken",
      parts: [" ::skiff-result ok\n", "::skiff-result failed web is unhealthy"],
      code: 1,
      stderr: " ::skiff-result ok\nskiff: push rejected: web is unhealthy\n",
    },
    {
      name: "a verdict followed by more output is not the verdict",
      parts: ["::skiff-result ok\n", "more\n"],
      code: 1,
      stderr: /^more\nskiff: push rejected: the Skiff server's answer ended without a result/,
    },
    {
      name: "an answer without a verdict rejects the push, saying so",
      parts: ["skiff: building\n"],
      code: 1,
      stderr: /^skiff: building\nskiff: push rejected: .*ended without a result .*skiff releases/,
    },
    {
      name: "lines are copied as they are: backslashes, $(...), leading spaces",
      parts: ["  a\\nb $(x) `y` %s\n", "::skiff-result ok\n"],
      code: 0,
      stderr: "  a\\nb $(x) `y` %s\n",
    },
  ];
  for (const { name, parts, code, stderr } of verdicts) {
    it(name, async () => {
      answer = chunks(...parts);
      const run = await runHook();
      expect(run.code).toBe(code);
      if (typeof stderr === "string") expect(run.stderr).toBe(stderr);
      else expect(run.stderr).toMatch(stderr);
    });
  }

  it("rejects the push when the connection breaks, even after an ok", async () => {
    answer = (response) => {
      response.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
      response.write("skiff: deploying\n::skiff-result ok\n");
      // Chunked and never ended: curl sees the answer cut off.
      setTimeout(() => response.socket?.destroy(), 50);
    };
    const run = await runHook();
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^skiff: deploying\nskiff: push rejected: the connection to the Skiff server broke before the pipeline finished \(.+\); see `skiff releases`/,
    );
  });

  it("rejects the push when the server refuses the hook, with the server's words", async () => {
    answer = (response) => {
      response.writeHead(401, { "content-type": "text/plain; charset=utf-8" });
      response.end(
        "the hook token is not valid: this endpoint is for Skiff's own pre-receive hook\n",
      );
    };
    const run = await runHook();
    expect(run).toEqual({
      code: 1,
      stderr:
        "the hook token is not valid: this endpoint is for Skiff's own pre-receive hook\n" +
        "skiff: push rejected: the Skiff server refused the push hook (HTTP 401); restart the server if this persists\n",
    });
  });

  it("says what to do when the server is not reachable", async () => {
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, "127.0.0.1", done));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((done) => closed.close(done));
    const run = await runHook({
      env: hookEnv({ [HOOK_ENV.url]: `http://127.0.0.1:${port}${PRE_RECEIVE_PATH}` }),
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      new RegExp(
        `^skiff: push rejected: could not reach the Skiff server at http://127\\.0\\.0\\.1:${port} \\(Failed to connect[^)]*\\); is it running\\? \\(skiff server status\\)\\n$`,
      ),
    );
  });

  it("refuses a push that did not come through the Skiff server, naming the remote", async () => {
    const run = await runHook({ env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
    expect(run).toEqual({
      code: 1,
      stderr:
        "skiff: push refused: it did not come through the Skiff server, so no pipeline would run.\n" +
        "skiff: push to the app's git remote instead: git push http://<skiff-host>:7070/git/shop.git main\n" +
        "skiff: (`skiff apps:info shop` shows the remote)\n",
    });
  });

  it("refuses a token with characters Skiff's tokens never have, without printing it", async () => {
    const run = await runHook({ env: hookEnv({ [HOOK_ENV.token]: 'x" -K /etc/passwd' }) });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("SKIFF_HOOK_TOKEN is not a token the Skiff server made");
    expect(run.stderr).not.toContain("passwd");
  });

  it("says how to install curl when it is missing", async () => {
    const empty = join(root, "empty-bin");
    mkdirSync(empty, { recursive: true });
    const run = await runHook({ env: hookEnv({ PATH: empty }) });
    expect(run).toEqual({
      code: 1,
      stderr:
        "skiff: push rejected: this hook needs curl to reach the Skiff server, and curl is not installed on the server's host; install it (Debian: apt-get install curl), then push again\n",
    });
  });

  it("keeps the token out of curl's arguments and environment", async () => {
    // A curl in front of the real one records what it was started with.
    const realCurl = execFileSync("/bin/sh", ["-c", "command -v curl"], {
      encoding: "utf8",
    }).trim();
    // Its own plain directory: the paths are quoted into the spy script below.
    const spy = mkdtempSync(join(tmpdir(), "skiff-hook-spy-"));
    const bin = join(spy, "bin");
    mkdirSync(bin);
    const argsFile = join(spy, "curl-args");
    const envFile = join(spy, "curl-env");
    writeFileSync(
      join(bin, "curl"),
      `#!/bin/sh\nprintf '%s\\n' "$@" > '${argsFile}'\ncat /proc/$$/environ > '${envFile}'\nexec '${realCurl}' "$@"\n`,
    );
    chmodSync(join(bin, "curl"), 0o755);
    answer = chunks("::skiff-result ok\n");
    const before = seen.length;
    const run = await runHook({
      env: hookEnv({ PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` }),
    });
    expect(run).toEqual({ code: 0, stderr: "" });
    expect(seen[before]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    const args = readFileSync(argsFile, "utf8");
    expect(args).toContain("--config\n/dev/fd/3\n");
    expect(args).not.toContain(TOKEN);
    expect(readFileSync(envFile, "utf8")).not.toContain(TOKEN);
    rmSync(spy, { recursive: true, force: true });
  });
});
