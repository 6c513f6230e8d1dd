import { Command, CommanderError } from "commander";
import { loadConfig } from "../config.js";
import { ExitError, SkiffError } from "../errors.js";
import { SKIFF_VERSION } from "../version.js";
import { registerAppCommands } from "./commands/apps.js";
import { registerBaseCommands } from "./commands/bases.js";
import { registerConfigCommands } from "./commands/config.js";
import { registerDeployCommand } from "./commands/deploy.js";
import { registerProcessCommands } from "./commands/ps.js";
import { registerReleaseCommands } from "./commands/releases.js";
import { registerRunCommands } from "./commands/runs.js";
import { registerServerCommands } from "./commands/server.js";
import { registerSpecCommands } from "./commands/spec.js";
import { registerStatusCommands } from "./commands/status.js";
import { registerTokenCommands } from "./commands/tokens.js";

/** Exit codes (DESIGN.md): 0 success, 1 the operation failed, 2 usage error. */
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

export function buildProgram(): Command {
  const program = new Command("skiff")
    .description("git push to production for Docker microservices")
    .version(SKIFF_VERSION)
    .showHelpAfterError("(run skiff --help for usage)")
    .exitOverride();
  const config = () => loadConfig();
  registerServerCommands(program, config);
  registerStatusCommands(program, config);
  registerAppCommands(program, config);
  registerRunCommands(program, config);
  registerBaseCommands(program, config);
  registerDeployCommand(program, config);
  registerReleaseCommands(program, config);
  registerConfigCommands(program, config);
  registerTokenCommands(program, config);
  registerProcessCommands(program, config);
  registerSpecCommands(program);
  return program;
}

/** The CLI's one top-level catch: every error becomes a message and an exit code here. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version "errors" are successful exits; commander already printed.
      if (
        error.code === "commander.helpDisplayed" ||
        error.code === "commander.version" ||
        error.code === "commander.help"
      )
        return 0;
      return EXIT_USAGE;
    }
    if (error instanceof ExitError) {
      if (error.message) process.stderr.write(`${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof SkiffError) {
      process.stderr.write(`skiff: ${error.message}\n${error.hint ? `${error.hint}\n` : ""}`);
      return EXIT_FAILED;
    }
    process.stderr.write(`skiff: unexpected error: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT_FAILED;
  }
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
