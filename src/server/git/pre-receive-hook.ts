import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { gitBaseEnv, isNullObjectId, runGit } from "../../git/git-command.js";
import {
  escapeProgressLine,
  formatVerdict,
  HOOK_ENV,
  PRE_RECEIVE_PATH,
  PUSH_BODY_LIMIT,
  parsePushForm,
  type Verdict,
} from "../../git/hook-protocol.js";
import type { PushOutput, PushRequest, PushResult } from "../../git/push.js";
import { bearerToken } from "../admin-token.js";

export { PRE_RECEIVE_PATH } from "../../git/hook-protocol.js";

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

export interface HookEnvironmentOptions {
  app: string;
  /** e.g. `http://127.0.0.1:7070/internal/git/pre-receive`: always loopback, whatever address the API listens on. */
  hookUrl: string;
  hookToken: string;
}

/** The variables the hook script needs, to put into the environment of `git http-backend` (registerGitRoutes' hookEnv). */
export function hookEnvironment(options: HookEnvironmentOptions): Record<string, string> {
  return {
    [HOOK_ENV.app]: options.app,
    [HOOK_ENV.url]: options.hookUrl,
    [HOOK_ENV.token]: options.hookToken,
  };
}

/** Compares secrets in constant time: both sides are hashed to the same length first. */
function sameSecret(presented: string | undefined, expected: string): boolean {
  if (!presented) return false;
  const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();
  return timingSafeEqual(digest(presented), digest(expected));
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
 * Registers `POST /internal/git/pre-receive`, where the hook script hands over
 * a push (a form body: git/hook-protocol.ts). The answer streams: each
 * `out.line` is written at once, then the verdict line. Authenticated with
 * the hook token, not the admin token: only processes the server started
 * hold it.
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

  // A scope of its own: this route takes the hook's form body and nothing else,
  // and no other route takes a form.
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "string", bodyLimit: PUSH_BODY_LIMIT },
      (_request, body, done) => done(null, new URLSearchParams(body as string)),
    );
    scope.post(PRE_RECEIVE_PATH, { onRequest }, (request, reply) => answerPush(request, reply));
  });

  async function answerPush(request: FastifyRequest, reply: FastifyReply) {
    const push =
      request.body instanceof URLSearchParams
        ? parsePushForm(request.body)
        : "the body must be an application/x-www-form-urlencoded form";
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
  }
}
