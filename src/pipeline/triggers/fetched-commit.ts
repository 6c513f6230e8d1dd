import { exportCommit } from "../../server/git/export-commit.js";
import { gitBaseEnv, runGit } from "../../server/git/git-command.js";
import { ensureAppRepository } from "../../server/git/repositories.js";
import { type SourceProvider, StageFailure } from "../pipeline.js";

/**
 * A commit Skiff fetches itself from the app's configured repository (a
 * webhook only says which commit; its payload's URLs are not trusted). The
 * branch is fetched into the app's own repository under refs/skiff/fetched/,
 * then the commit is exported from there.
 */
export function fetchedCommitSource(options: {
  reposRoot: string;
  app: string;
  repoUrl: string;
  branch: string;
  commit: string;
}): SourceProvider {
  return {
    async fetch(destDir, log) {
      const gitDir = await ensureAppRepository(options.reposRoot, options.app);
      const env = { ...gitBaseEnv(), GIT_DIR: gitDir };
      log(`fetching ${options.branch} from ${redactUrl(options.repoUrl)}`);
      await runGit({
        args: [
          "fetch",
          "--no-tags",
          "--quiet",
          "--",
          options.repoUrl,
          `+refs/heads/${options.branch}:refs/skiff/fetched/${options.branch}`,
        ],
        env,
        what: `could not fetch ${options.branch} from ${redactUrl(options.repoUrl)}`,
        hint: `check the app's repository URL (skiff apps:set ${options.app} repo=URL) and that this host can reach it`,
      });
      try {
        await runGit({
          args: ["cat-file", "-e", `${options.commit}^{commit}`],
          env,
          what: "commit lookup",
          hint: "",
        });
      } catch {
        throw new StageFailure(
          `commit ${options.commit.slice(0, 12)} is not on ${options.branch} of ${redactUrl(options.repoUrl)}`,
          ["the branch may have moved on; a newer webhook delivery will bring the newer commit"],
        );
      }
      await exportCommit({ gitDir, commit: options.commit, destDir });
      log(`commit ${options.commit.slice(0, 12)} (refs/heads/${options.branch})`);
      return { commit: options.commit };
    },
  };
}

/** A repository URL fit for a log: any password in it replaced. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^/@:]*):[^/@]*@/, "//$1:***@");
}
