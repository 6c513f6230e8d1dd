import { resolve } from "node:path";
import type { Command } from "commander";
import { createBuildContext } from "../../build/context.js";
import type { SkiffConfig } from "../../config.js";
import { ExitError } from "../../errors.js";
import { ApiClient } from "../api-client.js";
import { print } from "../output.js";
import { followRun } from "./runs.js";

export function registerDeployCommand(program: Command, loadConfig: () => SkiffConfig): void {
  program
    .command("deploy")
    .argument("[dir]", "the app's working tree (holding compose.yaml)", ".")
    .requiredOption("--app <name>", "the app to deploy to")
    .description(
      "upload a working tree (honouring .dockerignore) into the pipeline and follow the run",
    )
    .action(async (dir: string, options: { app: string }) => {
      const client = new ApiClient(loadConfig());
      // The same archive rules as a build context: .dockerignore honoured,
      // links never followed; the git metadata stays home.
      const archive = await createBuildContext(resolve(dir), {
        requireDockerfile: false,
        exclude: [".git"],
      });
      const { run } = await client.upload<{ run: number }>(
        `/api/v1/apps/${encodeURIComponent(options.app)}/deploy`,
        archive,
      );
      print(`skiff: run ${run} of ${options.app} (uploaded ${resolve(dir)})`);
      const status = await followRun(client, options.app, run);
      if (status !== "succeeded") throw new ExitError("", 1);
    });
}
