import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { appNameProblem, assertAppName } from "../app-names.js";
import { gitBaseEnv, runGit } from "./git-command.js";

/**
 * The app a repository path segment names (`shop.git` → `shop`), or undefined
 * when it is not an app name followed by `.git`. Anything else (`..`, `%2F`,
 * upper case, no suffix) is refused here, before any path is built from it.
 */
export function appFromRepoSegment(segment: string): string | undefined {
  if (!segment.endsWith(".git")) return undefined;
  const app = segment.slice(0, -".git".length);
  return appNameProblem(app) === undefined ? app : undefined;
}

/** Where an app's bare repository lives: `reposRoot/APP.git`. */
export function appRepositoryPath(reposRoot: string, app: string): string {
  assertAppName(app);
  return join(resolve(reposRoot), `${app}.git`);
}

/**
 * Repository settings, as `git config` pairs. Why each one:
 * - http.receivepack: http-backend enables push only for a REMOTE_USER by
 *   default; Skiff authenticates itself, so it says so explicitly.
 * - receive.denyNonFastForwards false: force pushes are allowed, as on Heroku
 *   and Dokku (redeploying an older commit is a normal thing to do). It must
 *   stay false: git checks it only after pre-receive, so a true here would
 *   refuse the ref update of a release the hook had already made live.
 * - receive.denyDeletes true: the deploy branch cannot be deleted by a push.
 *   Also checked after pre-receive; harmless there because a deletion
 *   deploys nothing.
 * - receive.fsckObjects: pushed trees are later extracted with tar, so
 *   objects with `..`, `.git` or duplicate entries are refused at the door.
 *   zeroPaddedFilemode (written by some old git versions) stays a warning
 *   so that existing histories can still be pushed.
 * - core.logAllRefUpdates: a reflog of every push, with the pusher's user
 *   name (http-backend sets GIT_COMMITTER_NAME from REMOTE_USER).
 */
export const REPOSITORY_CONFIG: readonly (readonly [string, string])[] = [
  ["http.receivepack", "true"],
  ["http.uploadpack", "true"],
  ["receive.denyNonFastForwards", "false"],
  ["receive.denyDeletes", "true"],
  ["receive.fsckObjects", "true"],
  ["receive.fsck.zeroPaddedFilemode", "ignore"],
  ["core.logAllRefUpdates", "true"],
];

/**
 * `$GIT_DIR/info/attributes` overrides the pushed tree's `.gitattributes`, so
 * `git archive` (exportCommit) exports every file as committed: a build
 * context must not lose `export-ignore` files or get `export-subst` rewrites.
 */
export const REPOSITORY_ATTRIBUTES = "* -export-ignore -export-subst\n";

/**
 * The pre-receive hook every app repository gets: `pre-receive.sh` beside
 * this module, POSIX sh and curl (a push waits for its start, and Node.js
 * alone takes about 0.1 s to start). Found through the package root, so the
 * same path serves src/ under tests and dist/ in the server, as the
 * dashboard's files are.
 *
 * It embeds neither a port nor a token: the Skiff server puts them in the
 * environment of the `git http-backend` it starts (see hookEnvironment), and
 * git passes that environment on to the hook. A push that did not come
 * through Skiff lacks them and is refused, so nothing reaches the branch
 * without a pipeline run.
 */
export const PRE_RECEIVE_HOOK_FILE = fileURLToPath(
  new URL("../../src/git/pre-receive.sh", import.meta.url),
);

/** The pre-receive hook's text, as installed. */
export function preReceiveHookScript(): string {
  return readFileSync(PRE_RECEIVE_HOOK_FILE, "utf8");
}

/**
 * Makes sure `reposRoot/APP.git` exists as a bare repository with Skiff's
 * settings and hook, and returns its path. Safe to run again: an existing
 * repository keeps its objects and refs, and gets the current config and hook
 * (so an upgraded Skiff upgrades its hooks).
 */
export async function ensureAppRepository(reposRoot: string, app: string): Promise<string> {
  const dir = appRepositoryPath(reposRoot, app);
  const env = gitBaseEnv();
  const hint = `check that ${resolve(reposRoot)} is writable by the Skiff server's user`;
  mkdirSync(resolve(reposRoot), { recursive: true });
  if (!existsSync(join(dir, "HEAD"))) {
    // --template= (empty) copies no templates: no sample hooks, nothing from the host.
    await runGit({
      args: ["init", "--bare", "--quiet", "--initial-branch=main", "--template=", dir],
      env,
      what: `could not create the git repository for ${app} in ${dir}`,
      hint,
    });
  }
  for (const [key, value] of REPOSITORY_CONFIG) {
    await runGit({
      args: ["--git-dir", dir, "config", key, value],
      env,
      what: `could not configure the git repository of ${app} (${key})`,
      hint,
    });
  }
  mkdirSync(join(dir, "info"), { recursive: true });
  writeAtomically(join(dir, "info", "attributes"), REPOSITORY_ATTRIBUTES, 0o644);
  mkdirSync(join(dir, "hooks"), { recursive: true });
  // A push may be running: it must see the old hook or the new one, never half a file.
  writeAtomically(join(dir, "hooks", "pre-receive"), preReceiveHookScript(), 0o755);
  return dir;
}

/** Deletes an app's repository, objects and all. Missing is fine. */
export function removeAppRepository(reposRoot: string, app: string): void {
  rmSync(appRepositoryPath(reposRoot, app), { recursive: true, force: true });
}

function writeAtomically(file: string, content: string, mode: number): void {
  const temporary = `${file}.skiff-${process.pid}-${Date.now()}`;
  writeFileSync(temporary, content, { mode });
  renameSync(temporary, file);
}
