import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import type { Readable } from "node:stream";
import { lastLines } from "../../git/git-command.js";
import type { SourceProvider } from "../pipeline.js";
import { StageFailure } from "../stage-failure.js";

/**
 * A working tree uploaded by `skiff deploy` as a tar archive. The archive is
 * saved before the run is queued (the upload request ends at once) and
 * extracted by the source stage.
 */
export function uploadedTreeSource(archiveFile: string): SourceProvider {
  return {
    fetch(destDir, log) {
      return new Promise((resolve, reject) => {
        // -x only: GNU tar refuses `..` members; --no-same-owner keeps files ours.
        const tar = spawn("tar", ["-x", "--no-same-owner", "-f", archiveFile, "-C", destDir], {
          stdio: ["ignore", "ignore", "pipe"],
        });
        let stderr = "";
        tar.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk.toString("utf8");
        });
        tar.once("error", (error) =>
          reject(new StageFailure(`could not run tar: ${error.message}`)),
        );
        tar.once("close", (code) => {
          if (code !== 0) {
            reject(
              new StageFailure(
                `the uploaded archive could not be extracted (tar exited with ${code})`,
                [lastLines(stderr, 10)],
              ),
            );
            return;
          }
          log("uploaded working tree (no commit)");
          resolve({ archiveFile });
        });
      });
    },
  };
}

/** Saves a request body to `file`, refusing more than `limitBytes`. */
export async function saveUpload(
  body: Readable,
  file: string,
  limitBytes: number,
): Promise<number> {
  const out = createWriteStream(file, { mode: 0o600 });
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limitBytes) {
        throw new StageFailure(
          `the upload is larger than ${Math.round(limitBytes / 1024 / 1024)} MB`,
        );
      }
      if (!out.write(chunk))
        await new Promise<void>((resolve) => out.once("drain", () => resolve()));
    }
  } finally {
    await new Promise<void>((resolve) => out.end(() => resolve()));
  }
  return size;
}
