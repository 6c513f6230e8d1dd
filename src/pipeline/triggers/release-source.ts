import { exportCommit } from "../../git/export-commit.js";
import { appRepositoryPath } from "../../git/repositories.js";
import type { ReleaseRecord } from "../../state/runs.js";
import type { UploadSourceStore } from "../../state/upload-sources.js";
import type { SourceProvider } from "../pipeline.js";
import { StageFailure } from "../stage-failure.js";
import { uploadedTreeSource } from "./upload.js";

/**
 * The tree of the release live when the run starts, for a config change:
 * its commit from the app's git repository, or the archive `skiff deploy`
 * uploaded. The new release keeps that release's images wherever the
 * change leaves an image as it is (`imagesOf`). Read at the start, not when
 * the change was asked for: a push that went live in between is the one
 * the change applies to.
 */
export function liveReleaseTreeSource(options: {
  reposRoot: string;
  uploads: UploadSourceStore;
  app: string;
  liveRelease(): ReleaseRecord | undefined;
  /** What changed, for the run log: "config:set GREETING". */
  change: string;
}): SourceProvider {
  return {
    async fetch(destDir, log, signal) {
      const release = options.liveRelease();
      if (!release) {
        throw new StageFailure(`no release of ${options.app} is live any more`, [
          "the config change is stored and applies with the next push or deploy",
        ]);
      }
      log(`${options.change}: a new release from r${release.number}'s tree and images`);
      if (release.commit) {
        await exportCommit({
          gitDir: appRepositoryPath(options.reposRoot, release.app),
          commit: release.commit,
          destDir,
        }).catch((error: Error) => {
          throw new StageFailure(
            `commit ${release.commit?.slice(0, 12)} of r${release.number} is no longer in ${release.app}'s repository (${error.message})`,
            [
              "the config change is stored and applies with the next push: push the commit again (git push skiff main)",
            ],
          );
        });
        return { commit: release.commit, imagesOf: release };
      }
      const archive = options.uploads.archive(release.app, release.number);
      if (!archive) {
        throw new StageFailure(
          `r${release.number} was uploaded with skiff deploy, and Skiff no longer keeps its tree`,
          ["the config change is stored and applies with the next deploy: run skiff deploy again"],
        );
      }
      // The new release keeps the uploaded tree too, for the next change.
      const fetched = await uploadedTreeSource(archive).fetch(destDir, log, signal);
      return { ...fetched, imagesOf: release };
    },
  };
}
