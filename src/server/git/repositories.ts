import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { appNameProblem, assertAppName } from "../../apps/names.js";
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
 * The pre-receive hook. It embeds neither a port nor a token: the Skiff
 * server puts them in the environment of the `git http-backend` it starts
 * (see hookEnvironment), and git passes that environment on to the hook. A
 * push that did not come through Skiff lacks them and is refused, so nothing
 * reaches the branch without a pipeline run.
 */
export function preReceiveHookScript(app: string): string {
  assertAppName(app);
  return `#!/bin/sh
# Installed by Skiff; rewritten each time Skiff prepares this repository, so
# edits here do not last. It hands the push to the Skiff server, which runs
# the pipeline and streams its progress back; a failed run rejects the push.
if [ -z "$SKIFF_HOOK_URL" ] || [ -z "$SKIFF_HOOK_TOKEN" ] || [ -z "$SKIFF_HOOK_CLIENT" ] || [ -z "$SKIFF_NODE" ]; then
  echo "skiff: push refused: it did not come through the Skiff server, so no pipeline would run." >&2
  echo "skiff: push to the app's git remote instead: git push http://<skiff-host>:7070/git/${app}.git main" >&2
  echo "skiff: (\\\`skiff apps:info ${app}\\\` shows the remote)" >&2
  exit 1
fi
if [ ! -f "$SKIFF_HOOK_CLIENT" ]; then
  echo "skiff: push refused: the Skiff hook client is missing at $SKIFF_HOOK_CLIENT; run \\\`npm run build\\\` in the Skiff checkout and restart the server" >&2
  exit 1
fi
exec "$SKIFF_NODE" "$SKIFF_HOOK_CLIENT"
`;
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
  writeAtomically(join(dir, "hooks", "pre-receive"), preReceiveHookScript(app), 0o755);
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
