import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync } from "node:fs";
import { isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { appNameProblem } from "../../apps/names.js";
import { bearerToken } from "../admin-token.js";
import { gitBaseEnv, isNullObjectId, OBJECT_ID, runGit } from "./git-command.js";
import {
  escapeProgressLine,
  formatVerdict,
  HOOK_ENV,
  PRE_RECEIVE_PATH,
  type PushRequest,
  type QuarantineEnv,
  type RefUpdate,
  type Verdict,
} from "./hook-protocol.js";

export type { PushRequest, QuarantineEnv, RefUpdate } from "./hook-protocol.js";
export { PRE_RECEIVE_PATH } from "./hook-protocol.js";

/** How a push's pipeline talks back: each line reaches the pusher as `remote: …` at once. */
export interface PushOutput {
  line(text: string): void;
  /** Aborted when the pusher goes away (Ctrl-C, lost connection): stop the run. */
  signal: AbortSignal;
}

export interface PushResult {
  ok: boolean;
  /** Why it failed, one line; shown to the pusher as `skiff: push rejected: <reason>`. */
  reason?: string;
}

export interface PreReceiveRouteOptions {
  /** The per-server-start secret the hook presents (createHookToken). */
  hookToken: string;
  /**
   * Runs the pipeline for a push while git holds it in quarantine. Resolving
   * ok lets git move the refs; anything else rejects the push. Pushes to the
   * same app reach it one at a time.
   */
  onPush(push: PushRequest, out: PushOutput): Promise<PushResult>;
  /**
   * A push turned away before its run could start (another push moved its
   * refs while it waited), so it can still be accounted for as a run.
   */
  onRefused?(push: PushRequest, reason: string, out: PushOutput): void;
}

/** A fresh hook token; create one per server start and keep it in memory only. */
export function createHookToken(): string {
  return randomBytes(32).toString("base64url");
}

/** Where the compiled hook client is: beside this module in dist/, or dist/ when this runs from src/. */
export function defaultHookClientPath(): string {
  const sibling = fileURLToPath(new URL("./hook-client.js", import.meta.url));
  if (existsSync(sibling)) return sibling;
  return fileURLToPath(new URL("../../../dist/server/git/hook-client.js", import.meta.url));
}

export interface HookEnvironmentOptions {
  app: string;
  /** e.g. `http://127.0.0.1:7070/internal/git/pre-receive`: always loopback, whatever address the API listens on. */
  hookUrl: string;
  hookToken: string;
  clientPath?: string;
  nodePath?: string;
}

/** The variables the hook script needs, to put into the environment of `git http-backend` (registerGitRoutes' hookEnv). */
export function hookEnvironment(options: HookEnvironmentOptions): Record<string, string> {
  return {
    [HOOK_ENV.app]: options.app,
    [HOOK_ENV.url]: options.hookUrl,
    [HOOK_ENV.token]: options.hookToken,
    [HOOK_ENV.client]: options.clientPath ?? defaultHookClientPath(),
    [HOOK_ENV.node]: options.nodePath ?? process.execPath,
  };
}

/** Compares secrets in constant time: both sides are hashed to the same length first. */
function sameSecret(presented: string | undefined, expected: string): boolean {
  if (!presented) return false;
  const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/** Checks the hook's JSON body; returns the problem, or the push. */
export function parsePushRequest(body: unknown): PushRequest | string {
  if (typeof body !== "object" || body === null) return "the body must be a JSON object";
  const { app, updates, gitDir, quarantine } = body as Record<string, unknown>;
  if (typeof app !== "string" || appNameProblem(app)) return "app must be an app name";
  if (typeof gitDir !== "string" || !isAbsolute(gitDir)) return "gitDir must be an absolute path";
  if (!Array.isArray(updates) || updates.length === 0) return "updates must be a non-empty list";
  const parsed: RefUpdate[] = [];
  for (const update of updates as unknown[]) {
    const { oldSha, newSha, ref } = (update ?? {}) as Record<string, unknown>;
    if (typeof oldSha !== "string" || !OBJECT_ID.test(oldSha)) return "oldSha must be an object id";
    if (typeof newSha !== "string" || !OBJECT_ID.test(newSha)) return "newSha must be an object id";
    if (typeof ref !== "string" || !/^refs\/[^\s]+$/.test(ref)) return "ref must be a ref name";
    parsed.push({ oldSha, newSha, ref });
  }
  const env: QuarantineEnv = {};
  if (quarantine !== undefined) {
    if (typeof quarantine !== "object" || quarantine === null)
      return "quarantine must be an object";
    for (const name of [
      "GIT_OBJECT_DIRECTORY",
      "GIT_ALTERNATE_OBJECT_DIRECTORIES",
      "GIT_QUARANTINE_PATH",
    ] as const) {
      const value = (quarantine as Record<string, unknown>)[name];
      if (value === undefined) continue;
      if (typeof value !== "string") return `quarantine.${name} must be a string`;
      env[name] = value;
    }
  }
  return { app, updates: parsed, gitDir, quarantine: env };
}

/**
 * The refs as they are now, for the ones this push updates; a push that
 * waited for another must not go live on top of a ref that moved meanwhile
 * (git would refuse its ref update after the deploy).
 */
async function movedRefs(push: PushRequest): Promise<string[]> {
  const moved: string[] = [];
  for (const update of push.updates) {
    let current: string;
    try {
      const out = await runGit({
        args: [
          "--git-dir",
          push.gitDir,
          "rev-parse",
          "--verify",
          "--quiet",
          `${update.ref}^{object}`,
        ],
        env: gitBaseEnv(),
        what: `could not read ${update.ref}`,
        hint: "",
      });
      current = out.toString("utf8").trim();
    } catch {
      current = "0".repeat(update.oldSha.length);
    }
    const expected = update.oldSha;
    if (current !== expected && !(isNullObjectId(current) && isNullObjectId(expected))) {
      moved.push(`${update.ref} (now at ${current.slice(0, 7)})`);
    }
  }
  return moved;
}

/**
 * Registers `POST /internal/git/pre-receive`, where the hook client hands over
 * a push. The answer streams: each `out.line` is written at once, then the
 * verdict line. Authenticated with the hook token, not the admin token: only
 * processes the server started hold it.
 */
export function registerPreReceiveRoute(
  app: FastifyInstance,
  options: PreReceiveRouteOptions,
): void {
  /** Per app, the end of the last push's run: pushes to one app go one at a time. */
  const queues = new Map<string, Promise<void>>();

  // The token is checked in onRequest, before Fastify reads and parses the body.
  const onRequest = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!sameSecret(bearerToken(request.headers.authorization), options.hookToken)) {
      return reply
        .code(401)
        .type("text/plain; charset=utf-8")
        .send("the hook token is not valid: this endpoint is for Skiff's own pre-receive hook\n");
    }
  };

  app.post(PRE_RECEIVE_PATH, { onRequest }, async (request, reply) => {
    const push = parsePushRequest(request.body);
    if (typeof push === "string") {
      return reply
        .code(400)
        .type("text/plain; charset=utf-8")
        .send(`bad pre-receive request: ${push}\n`);
    }

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      "content-type": "text/plain; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    });
    res.flushHeaders();
    const controller = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) controller.abort(new Error("the pusher disconnected"));
    });
    const out: PushOutput = {
      signal: controller.signal,
      line(text: string) {
        if (res.writableEnded || res.destroyed) return;
        for (const line of String(text).split(/\r?\n/)) res.write(`${escapeProgressLine(line)}\n`);
      },
    };

    const previous = queues.get(push.app);
    let release = () => {};
    const mine = new Promise<void>((done) => {
      release = done;
    });
    const tail = (previous ?? Promise.resolve()).then(() => mine);
    queues.set(push.app, tail);

    let verdict: Verdict;
    try {
      if (previous) {
        out.line(`skiff: waiting for the previous push to ${push.app} to finish…`);
        await previous;
      }
      // Always checked: a push whose refs moved since its client looked
      // would run the pipeline only for git to refuse the ref update after.
      const moved = await movedRefs(push);
      if (controller.signal.aborted) {
        verdict = { ok: false, reason: "the pusher disconnected" };
      } else if (moved.length > 0) {
        const reason = `another push moved ${moved.join(", ")} while this one waited; fetch, then push again`;
        options.onRefused?.(push, reason, out);
        verdict = { ok: false, reason };
      } else {
        const result = await options.onPush(push, out);
        verdict = result.ok
          ? { ok: true }
          : { ok: false, reason: result.reason ?? "the pipeline failed" };
      }
    } catch (error) {
      request.log.error({ err: error }, "pre-receive run failed");
      verdict = {
        ok: false,
        reason: `Skiff hit an unexpected error; the server log has the details under request id ${request.id}`,
      };
    } finally {
      release();
      if (queues.get(push.app) === tail) queues.delete(push.app);
    }
    if (!res.writableEnded && !res.destroyed) res.end(`${formatVerdict(verdict)}\n`);
  });
}
