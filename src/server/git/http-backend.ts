import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Readable } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { gitBaseEnv, lastLines } from "../../git/git-command.js";
import { appFromRepoSegment, ensureAppRepository } from "../../git/repositories.js";
import type { Principal } from "../../state/tokens.js";
import { accessProblem } from "../access.js";
import { type CgiHead, CgiResponseReader, cgiEnvironment } from "./cgi.js";

export interface GitRoutesOptions {
  /** Directory holding `APP.git`; repositories are created there on first use. */
  reposRoot: string;
  /** Who the HTTP Basic password (any user name) is: a Skiff token, or nobody. */
  authenticate(password: string): Principal | undefined;
  /** Filled while a push runs: the app's pusher, whom its run is attributed to. */
  pushers: Map<string, string>;
  appExists(name: string): boolean;
  /** Skiff's hook variables for a push to `app` (hookEnvironment), set for `git http-backend`. */
  hookEnv(app: string): Record<string, string>;
}

/** User name and password from an `Authorization: Basic …` header. */
export function basicCredentials(
  header: string | undefined,
): { user: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header ?? "");
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon === -1) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * A plain-text error. git prints a text/plain body of a failed ref
 * discovery as `remote: …` lines (remote-curl.c, show_http_message), so the
 * message reaches the pusher's terminal.
 */
function textError(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply
    .code(status)
    .header("cache-control", "no-store")
    .type("text/plain; charset=utf-8")
    .send(`${message}\n`);
}

function remoteAddress(request: FastifyRequest): string {
  return (request.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
}

/**
 * Registers git's smart-HTTP routes at `/git/APP.git/…` and answers them with
 * `git http-backend` run as a CGI per request. Request bodies stream into it
 * and its answers stream out, so a push's `remote:` lines reach the pusher as
 * the pipeline writes them. Every request needs HTTP Basic auth with a Skiff
 * token as the password.
 */
export function registerGitRoutes(app: FastifyInstance, options: GitRoutesOptions): void {
  const reposRoot = resolve(options.reposRoot);
  /**
   * The receive-pack request in flight per app. Pushes to one app go one at
   * a time for the whole request, not only for the hook: git moves the refs
   * after pre-receive returns, and the next push must see them moved.
   */
  const receiving = new Map<string, Promise<void>>();
  /** Apps whose repository got this server's config and hook, with the run doing it. */
  const prepared = new Map<string, Promise<string>>();

  function prepare(name: string): Promise<string> {
    let ready = prepared.get(name);
    // Re-check the disk: an app destroyed and created again needs a new repository.
    if (!ready || !existsSync(join(reposRoot, `${name}.git`, "HEAD"))) {
      ready = ensureAppRepository(reposRoot, name);
      ready.catch(() => prepared.delete(name));
      prepared.set(name, ready);
    }
    return ready;
  }

  async function handle(request: FastifyRequest, reply: FastifyReply, service: string) {
    const segment = (request.params as { repo?: string }).repo ?? "";
    const name = appFromRepoSegment(segment);
    if (!name) {
      // Checked before anything else: a segment like `..%2F..` never reaches a path.
      return textError(
        reply,
        404,
        `not a Skiff repository: ${JSON.stringify(segment)}; app remotes look like /git/APP.git (lowercase letters, digits and "-")`,
      );
    }
    const credentials = basicCredentials(request.headers.authorization);
    const principal = credentials ? options.authenticate(credentials.password) : undefined;
    if (!credentials || !principal) {
      reply.header("www-authenticate", 'Basic realm="Skiff"');
      return textError(
        reply,
        401,
        credentials
          ? "the password is not a valid Skiff token (unknown, revoked or expired); use a token of this app as the password, with any user name: a deploy token to push, a read token to fetch (skiff tokens:create)"
          : "Skiff needs a token: use any user name and a Skiff token as the password",
      );
    }
    // Fetching needs read; pushing (receive-pack, and the ref list it asks first) needs deploy.
    const pushing =
      service === "git-receive-pack" ||
      (service === "info/refs" &&
        // Decoded as git http-backend decodes it: `git%2Dreceive%2Dpack` is a push too.
        new URLSearchParams(queryOf(request.url)).getAll("service").includes("git-receive-pack"));
    const problem = accessProblem(principal, pushing ? "deploy" : "read", name);
    if (problem) {
      const needs = pushing
        ? "a push needs a deploy token of this app"
        : "a fetch needs a read token of this app";
      return textError(reply, 403, `${problem}; ${needs}`);
    }
    if (!options.appExists(name)) {
      return textError(
        reply,
        404,
        `no app named "${name}" on this Skiff server; create it with \`skiff apps:create ${name}\`, then push again`,
      );
    }
    try {
      await prepare(name);
    } catch (error) {
      request.log.error({ err: error }, "could not prepare the git repository");
      return textError(
        reply,
        500,
        `Skiff could not prepare the repository of ${name}: ${(error as Error).message}`,
      );
    }

    const query = request.url.indexOf("?");
    const env = cgiEnvironment(
      {
        method: request.method,
        pathInfo: `/${name}.git/${service}`,
        queryString: query === -1 ? "" : request.url.slice(query + 1),
        headers: request.headers,
        remoteAddr: remoteAddress(request),
        remoteUser: credentials.user,
        projectRoot: reposRoot,
      },
      gitBaseEnv(),
      options.hookEnv(name),
    );
    if (service !== "git-receive-pack") {
      await runBackend(request, reply, env);
      return;
    }
    const previous = receiving.get(name);
    let done = () => {};
    const mine = new Promise<void>((resolve) => {
      done = resolve;
    });
    const tail = (previous ?? Promise.resolve()).then(() => mine);
    receiving.set(name, tail);
    try {
      await previous;
      // Pushes to one app take turns, so the pusher named here is the one whose hook runs.
      options.pushers.set(name, principal.name);
      await runBackend(request, reply, env);
    } finally {
      options.pushers.delete(name);
      done();
      if (receiving.get(name) === tail) receiving.delete(name);
    }
  }

  app.register(async (scope) => {
    // Git's bodies (application/x-git-*-request, possibly gzip or chunked)
    // go to http-backend untouched, as a stream: no parser, no size limit.
    // Only in this scope, so the API keeps its JSON parser.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", (_request, payload, done) => done(null, payload));
    scope.get("/git/:repo/info/refs", (request, reply) => handle(request, reply, "info/refs"));
    scope.post("/git/:repo/git-upload-pack", (request, reply) =>
      handle(request, reply, "git-upload-pack"),
    );
    scope.post("/git/:repo/git-receive-pack", (request, reply) =>
      handle(request, reply, "git-receive-pack"),
    );
  });
}

/**
 * Runs one `git http-backend` CGI request and streams its answer. The
 * backend runs in its own process group: when the client goes away (Ctrl-C
 * during a push), the whole group stops, hook included, and the hook's
 * closed connection aborts the pipeline run.
 */
function runBackend(
  request: FastifyRequest,
  reply: FastifyReply,
  env: Record<string, string>,
): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  const child = spawn("git", ["http-backend"], {
    env,
    detached: true,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    if (stderr.length < 64 * 1024) stderr += chunk.toString("utf8");
  });

  const stopGroup = () => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      // Already gone.
    }
  };
  res.on("close", () => {
    if (!res.writableFinished) stopGroup();
  });

  // The request body: the raw stream our content-type parser handed over.
  const body = request.body as Readable | undefined;
  child.stdin.on("error", () => {}); // http-backend may answer (403, 415) without reading it.
  if (body && typeof body.pipe === "function") body.pipe(child.stdin);
  else child.stdin.end();

  const reader = new CgiResponseReader();
  child.stdout.pipe(reader);

  const fail = (status: number, message: string) => {
    request.log.error({ stderr }, message);
    if (!res.headersSent) {
      res.writeHead(status, {
        "content-type": "text/plain; charset=utf-8",
        "cache-control": "no-store",
      });
      res.end(`${message}\n`);
    } else {
      // Mid-answer: cut the connection so git reports a failure instead of a short read.
      res.destroy();
    }
  };

  let head: CgiHead | undefined;
  let errorBody: Buffer[] | undefined;
  reader.once("head", (parsed: CgiHead) => {
    head = parsed;
    if (parsed.status >= 400) {
      // Errors are small: hold them, to replace an empty body with what git said on stderr.
      errorBody = [];
      reader.on("data", (chunk: Buffer) => errorBody?.push(chunk));
      return;
    }
    res.writeHead(parsed.status, parsed.headers.flat());
    reader.pipe(res);
  });

  const readerDone = new Promise<boolean>((done) => {
    reader.once("end", () => done(true));
    reader.once("error", (error) => {
      stopGroup();
      fail(500, `git http-backend answered something that is not CGI: ${error.message}`);
      done(false);
    });
  });
  const exited = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    started: boolean;
  }>((done) => {
    child.once("error", (error) => {
      fail(500, `Skiff could not start git http-backend (${error.message}); install git`);
      done({ code: null, signal: null, started: false });
    });
    child.once("close", (code, signal) => done({ code, signal, started: true }));
  });

  return exited.then(async ({ code, signal, started }) => {
    if (!started) return;
    if (code !== 0 && !res.destroyed) {
      request.log.warn({ code, signal, stderr }, "git http-backend failed");
    }
    const complete = await readerDone;
    if (!complete || res.destroyed) return;
    if (!head) {
      fail(
        500,
        `git http-backend stopped (exit ${code ?? signal}) without an answer: ${lastLines(stderr, 5)}`,
      );
      return;
    }
    if (!errorBody) return; // streamed by reader.pipe(res)
    const bodyBytes = Buffer.concat(errorBody);
    const message = lastLines(stderr, 5);
    if (bodyBytes.length > 0 || !message) {
      res.writeHead(head.status, head.headers.flat());
      res.end(bodyBytes);
    } else {
      res.writeHead(head.status, {
        "content-type": "text/plain; charset=utf-8",
        "cache-control": "no-store",
      });
      res.end(`git http-backend: ${message}\n`);
    }
  });
}

/** The query string of a URL, without its `?`. */
function queryOf(url: string): string {
  const at = url.indexOf("?");
  return at === -1 ? "" : url.slice(at + 1);
}
