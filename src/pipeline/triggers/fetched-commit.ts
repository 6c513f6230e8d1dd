import { exportCommit } from "../../git/export-commit.js";
import { GitCommandError, gitBaseEnv, runGit } from "../../git/git-command.js";
import { ensureAppRepository } from "../../git/repositories.js";
import { maskUrlCredentials, scrubUrlCredentials } from "../../url-credentials.js";
import type { SourceProvider } from "../pipeline.js";
import { StageFailure } from "../stage-failure.js";

/**
 * The tip of the app's deploy branch, fetched by Skiff itself from the app's
 * configured repository (a webhook's payload is not trusted: neither its URLs
 * nor its commit). The branch is fetched into the app's own repository under
 * refs/skiff/fetched/, and the commit it points to after the fetch is
 * exported. The commit the delivery announced is only compared with it, so a
 * replayed old delivery deploys today's tip, never the old commit.
 */
export function fetchedCommitSource(options: {
  reposRoot: string;
  app: string;
  repoUrl: string;
  branch: string;
  /** The commit the webhook's payload named, for the run log. */
  announcedCommit?: string;
}): SourceProvider {
  const shownUrl = maskUrlCredentials(options.repoUrl);
  const fetchedRef = `refs/skiff/fetched/${options.branch}`;
  return {
    async fetch(destDir, log) {
      const gitDir = await ensureAppRepository(options.reposRoot, options.app);
      const env = { ...gitBaseEnv(), GIT_DIR: gitDir };
      log(`fetching ${options.branch} from ${shownUrl}`);
      try {
        await runGit({
          args: [
            "fetch",
            "--no-tags",
            "--quiet",
            "--",
            options.repoUrl,
            `+refs/heads/${options.branch}:${fetchedRef}`,
          ],
          env,
          what: `could not fetch ${options.branch} from ${shownUrl}`,
          hint: `check the app's repository URL (skiff apps:set ${options.app} repo=URL) and that this host can reach it`,
        });
      } catch (error) {
        if (!(error instanceof GitCommandError)) throw error;
        // git quotes the URL it was given, credentials and all ("unable to
        // access 'https://user:token@…'"), so its words are scrubbed first.
        throw new StageFailure(
          scrubUrlCredentials(error.message, options.repoUrl),
          error.hint ? [error.hint] : [],
        );
      }
      const tip = (
        await runGit({
          args: ["rev-parse", "--verify", "--end-of-options", `${fetchedRef}^{commit}`],
          env,
          what: `could not read ${options.branch} after fetching it`,
          hint: "",
        })
      )
        .toString("utf8")
        .trim();
      const announced = options.announcedCommit;
      if (announced && announced !== tip) {
        log(
          `the delivery named commit ${announced.slice(0, 12)}, but ${options.branch} is at ${tip.slice(0, 12)} after the fetch: deploying ${tip.slice(0, 12)}`,
        );
      }
      await exportCommit({ gitDir, commit: tip, destDir });
      log(`commit ${tip.slice(0, 12)} (the tip of refs/heads/${options.branch})`);
      return { commit: tip };
    },
  };
}
