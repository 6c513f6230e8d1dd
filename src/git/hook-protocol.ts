import { isAbsolute, resolve } from "node:path";
import { appNameProblem } from "../app-names.js";
import { type PushRequest, parseRefUpdates, type QuarantineEnv } from "./push.js";

/**
 * The protocol between the pre-receive hook script installed in every app
 * repository (hook-script.ts: POSIX sh and curl) and the Skiff server's hook
 * route (server/git/pre-receive-hook.ts).
 *
 * Request: `POST /internal/git/pre-receive`, `Authorization: Bearer
 * $SKIFF_HOOK_TOKEN`, an `application/x-www-form-urlencoded` body with the
 * fields of PUSH_FIELDS. curl's --data-urlencode encodes every value, so the
 * script never has to quote a ref name or a path itself.
 * Response: `text/plain`, one line per progress message, sent as it happens;
 * the last line is the verdict, `::skiff-result ok` or
 * `::skiff-result failed <reason>`. A progress line that starts with
 * `::skiff-` is sent with a leading space, so output can never pass as a verdict.
 */

export const PRE_RECEIVE_PATH = "/internal/git/pre-receive";

/** The environment variables Skiff sets for `git http-backend`, which the hook reads. */
export const HOOK_ENV = {
  /** Full URL of the pre-receive endpoint, e.g. http://127.0.0.1:7070/internal/git/pre-receive */
  url: "SKIFF_HOOK_URL",
  /** The per-server-start token for that endpoint. */
  token: "SKIFF_HOOK_TOKEN",
  /** The app the push is for. */
  app: "SKIFF_APP",
} as const;

/**
 * The request's fields. The hook sends git's variables as it got them and
 * its working directory, and the server resolves the paths: receive-pack
 * runs the hook in the repository with GIT_DIR=. (githooks(5)).
 */
export const PUSH_FIELDS = {
  app: "app",
  /** The hook's working directory, absolute. */
  cwd: "cwd",
  gitDir: "GIT_DIR",
  objectDirectory: "GIT_OBJECT_DIRECTORY",
  alternateObjectDirectories: "GIT_ALTERNATE_OBJECT_DIRECTORIES",
  quarantinePath: "GIT_QUARANTINE_PATH",
  /** pre-receive's standard input as it came: `<old> <new> <ref>` lines. */
  updates: "updates",
} as const;

/** The most a push request may hold: a ref update is about 120 bytes URL-encoded, so some 250 000 of them. */
export const PUSH_BODY_LIMIT = 32 * 1024 * 1024;

/** A ref as the server takes it: under refs/, no whitespace (git-check-ref-format(1) allows none either). */
const REF_NAME = /^refs\/[^\s]+$/;

/** Checks the hook's form body; returns the problem, or the push. */
export function parsePushForm(form: URLSearchParams): PushRequest | string {
  const field = (name: string) => form.get(name) ?? "";
  const app = field(PUSH_FIELDS.app);
  if (appNameProblem(app)) return "app must be an app name";
  const cwd = field(PUSH_FIELDS.cwd);
  if (!isAbsolute(cwd)) return "cwd must be an absolute path";
  let updates: PushRequest["updates"];
  try {
    updates = parseRefUpdates(field(PUSH_FIELDS.updates));
  } catch (error) {
    return (error as Error).message;
  }
  if (updates.length === 0) return "updates must list at least one ref update";
  for (const { ref } of updates) {
    if (!REF_NAME.test(ref)) return `${JSON.stringify(ref)} is not a ref name`;
  }
  const quarantine: QuarantineEnv = {};
  // git gives absolute paths (tmp-objdir.c); resolving keeps a relative one usable by the server.
  const objects = field(PUSH_FIELDS.objectDirectory);
  if (objects) quarantine.GIT_OBJECT_DIRECTORY = resolve(cwd, objects);
  const incoming = field(PUSH_FIELDS.quarantinePath);
  if (incoming) quarantine.GIT_QUARANTINE_PATH = resolve(cwd, incoming);
  // A colon-separated list, possibly quoted by git: passed on as it is.
  const alternates = field(PUSH_FIELDS.alternateObjectDirectories);
  if (alternates) quarantine.GIT_ALTERNATE_OBJECT_DIRECTORIES = alternates;
  return { app, updates, gitDir: resolve(cwd, field(PUSH_FIELDS.gitDir) || "."), quarantine };
}

export type Verdict = { ok: true } | { ok: false; reason: string };

/** Starts the verdict line; the hook script matches the same text. */
export const VERDICT = "::skiff-result";

/** The verdict line (without newline); the reason is kept to one line. */
export function formatVerdict(verdict: Verdict): string {
  if (verdict.ok) return `${VERDICT} ok`;
  const reason = verdict.reason.replace(/\s*[\r\n]+\s*/g, " ").trim() || "the pipeline failed";
  return `${VERDICT} failed ${reason}`;
}

/** A progress line as sent: never mistaken for a verdict. */
export function escapeProgressLine(line: string): string {
  return line.startsWith("::skiff-") ? ` ${line}` : line;
}
