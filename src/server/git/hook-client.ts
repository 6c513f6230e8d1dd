/**
 * The pre-receive hook's body, run by the hook script as
 * `$SKIFF_NODE $SKIFF_HOOK_CLIENT` inside receive-pack, once per push.
 *
 * It sends the push to the Skiff server and copies the server's answer to
 * stderr line by line as it arrives: git forwards a hook's stderr to the
 * pusher as `remote:` lines, so the pipeline's progress shows live. The
 * answer's last line is the verdict; the exit code (0 ok, 1 otherwise) is
 * what accepts or rejects the push.
 *
 * Only Node built-ins here: this file starts for every push.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { resolve } from "node:path";
import {
  HOOK_ENV,
  HookOutputReader,
  type PushRequest,
  parseRefUpdates,
  type QuarantineEnv,
  type Verdict,
} from "./hook-protocol.js";

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

let finished = false;

/** Ends the hook with the verdict's exit code; later calls (a close after an end) are ignored. */
function finish(verdict: Verdict): void {
  if (finished) return;
  finished = true;
  if (!verdict.ok) say(`skiff: push rejected: ${verdict.reason}`);
  // Pipes to stderr are written synchronously on Linux, so nothing printed is lost.
  process.exit(verdict.ok ? 0 : 1);
}

function readStdin(): Promise<string> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    process.stdin.on("data", (chunk: Buffer) => chunks.push(chunk));
    process.stdin.once("end", () => done(Buffer.concat(chunks).toString("utf8")));
    process.stdin.once("error", fail);
  });
}

function quarantineFromEnv(env: NodeJS.ProcessEnv, cwd: string): QuarantineEnv {
  const quarantine: QuarantineEnv = {};
  // git gives absolute paths (tmp-objdir.c); resolving keeps a relative one usable by the server.
  if (env.GIT_OBJECT_DIRECTORY)
    quarantine.GIT_OBJECT_DIRECTORY = resolve(cwd, env.GIT_OBJECT_DIRECTORY);
  if (env.GIT_QUARANTINE_PATH)
    quarantine.GIT_QUARANTINE_PATH = resolve(cwd, env.GIT_QUARANTINE_PATH);
  // A colon-separated list, possibly quoted by git: passed on as it is.
  if (env.GIT_ALTERNATE_OBJECT_DIRECTORIES) {
    quarantine.GIT_ALTERNATE_OBJECT_DIRECTORIES = env.GIT_ALTERNATE_OBJECT_DIRECTORIES;
  }
  return quarantine;
}

function readAll(response: IncomingMessage): Promise<string> {
  return new Promise((done) => {
    let text = "";
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => {
      text += chunk;
    });
    response.on("end", () => done(text));
    response.on("error", () => done(text));
  });
}

async function main(): Promise<void> {
  const env = process.env;
  const url = env[HOOK_ENV.url];
  const token = env[HOOK_ENV.token];
  const app = env[HOOK_ENV.app];
  if (!url || !token || !app) {
    finish({
      ok: false,
      reason: `${HOOK_ENV.url}, ${HOOK_ENV.token} and ${HOOK_ENV.app} must be set; push through the Skiff server's git remote (http://<skiff-host>:7070/git/APP.git)`,
    });
    return;
  }
  // The reader is gone (the push was cancelled): stop, which also tells the server.
  process.stderr.on("error", () => process.exit(1));

  const updates = parseRefUpdates(await readStdin());
  if (updates.length === 0) {
    finish({ ok: true });
    return;
  }

  const cwd = process.cwd();
  const push: PushRequest = {
    app,
    updates,
    gitDir: resolve(cwd, env.GIT_DIR ?? "."),
    quarantine: quarantineFromEnv(env, cwd),
  };
  const target = new URL(url);
  const body = JSON.stringify(push);
  const request = (target.protocol === "https:" ? httpsRequest : httpRequest)(target, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      accept: "text/plain",
    },
  });
  request.on("error", (error: NodeJS.ErrnoException) => {
    finish({
      ok: false,
      reason: `could not reach the Skiff server at ${target.origin} (${error.code ?? error.message}); is it running? (skiff server status)`,
    });
  });
  request.on("response", async (response) => {
    if (response.statusCode !== 200) {
      const text = (await readAll(response)).trim();
      finish({
        ok: false,
        reason: `the Skiff server refused the push hook (HTTP ${response.statusCode}${text ? `: ${text.slice(0, 500)}` : ""}); restart the server if this persists`,
      });
      return;
    }
    const reader = new HookOutputReader(say);
    response.on("data", (chunk: Buffer) => reader.push(chunk));
    response.on("end", () => finish(reader.end()));
    response.on("close", () => {
      if (!response.complete) finish(reader.end("the response was cut off"));
    });
  });
  request.end(body);
}

main().catch((error: unknown) => {
  finish({ ok: false, reason: `the Skiff hook failed: ${(error as Error).message}` });
});
