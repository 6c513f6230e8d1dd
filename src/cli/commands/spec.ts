import { resolve } from "node:path";
import type { Command } from "commander";
import { ExitError } from "../../errors.js";
import { print, printJson } from "../output.js";

export function registerSpecCommands(program: Command): void {
  program
    .command("spec:check")
    .argument("[dir]", "the app's directory (holding compose.yaml)", ".")
    .description("check an app spec and print the plan Skiff would deploy, or every problem found")
    .option("--app <name>", "app name used for default domains", undefined)
    .option("--json", "print the plan or the problems as JSON")
    .action(async (dir: string, options: { app?: string; json?: boolean }) => {
      // Loaded on demand: the parser and its schema are only needed by these commands.
      const { formatProblem, loadSpec, toPlan } = await import("../../spec/index.js");
      const { formatPlan } = await import("../plan-format.js");
      const root = resolve(dir);
      const result = loadSpec(root);
      const appName = options.app ?? defaultAppName(root);
      if (options.json) {
        printJson(
          result.ok
            ? { ok: true, warnings: result.warnings, plan: toPlan(result.spec, appName) }
            : { ok: false, errors: result.errors, warnings: result.warnings },
        );
      } else {
        for (const warning of result.warnings)
          process.stderr.write(`warning: ${formatProblem(warning)}\n`);
        if (result.ok) print(formatPlan(toPlan(result.spec, appName)));
        else
          for (const error of result.errors)
            process.stderr.write(`error: ${formatProblem(error)}\n`);
      }
      if (!result.ok) {
        throw new ExitError(
          options.json
            ? ""
            : `${result.errors.length} problem${result.errors.length === 1 ? "" : "s"} in the spec; a push with it would stop before building anything`,
          1,
        );
      }
    });

  program
    .command("spec:schema")
    .description("print the JSON Schema of Skiff's x-skiff keys (for editor autocompletion)")
    .action(async () => {
      const { xSkiffJsonSchema } = await import("../../spec/index.js");
      printJson(xSkiffJsonSchema());
    });
}

/** A directory name made into a DNS label, for previews before the app exists. */
function defaultAppName(root: string): string {
  const base = root.split("/").pop() ?? "app";
  return (
    base
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 63) || "app"
  );
}
