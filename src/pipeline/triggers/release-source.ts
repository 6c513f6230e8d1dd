import { exportCommit } from "../../git/export-commit.js";
import { appRepositoryPath } from "../../git/repositories.js";
import type { ReleaseRecord } from "../../state/runs.js";
import type { UploadSourceStore } from "../../state/upload-sources.js";
import type { SourceProvider } from "../pipeline.js";
import { StageFailure } from "../stage-failure.js";
import { uploadedTreeSource } from "./upload.js";

/**
 * The tree of a release that already ran, for a config change: its commit
 * from the app's git repository, or the archive `skiff deploy` uploaded. The
 * new release keeps this release's images wherever the change leaves an
 * image as it is (`imagesOf`).
 */
export function releaseTreeSource(options: {
  reposRoot: string;
  uploads: UploadSourceStore;
  release: ReleaseRecord;
  /** What changed, for the run log: "config:set GREETING". */
  change: string;
}): SourceProvider {
  const { release } = options;
  const archive = release.commit ? undefined : options.uploads.archive(release.app, release.number);
  return {
    imagesOf: release,
    // The new release keeps the uploaded tree too, for the next change.
    ...(archive ? { archiveFile: archive } : {}),
    async fetch(destDir, log, signal) {
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
        return { commit: release.commit };
      }
      if (!archive) {
        throw new StageFailure(
          `r${release.number} was uploaded with skiff deploy, and Skiff no longer keeps its tree`,
          ["the config change is stored and applies with the next deploy: run skiff deploy again"],
        );
      }
      return uploadedTreeSource(archive).fetch(destDir, log, signal);
    },
  };
}
