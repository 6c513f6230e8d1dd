import type { Command } from "commander";
import type { BaseImageInfo } from "../../bases/index.js";
import type { SkiffConfig } from "../../config.js";
import { ExitError } from "../../errors.js";
import type { BaseBuildLine } from "../../server/api/bases.js";
import { ApiClient } from "../api-client.js";
import { age, print, printJson, table } from "../output.js";

function megabytes(bytes: number | undefined): string | undefined {
  return bytes === undefined ? undefined : `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}

export function registerBaseCommands(program: Command, loadConfig: () => SkiffConfig): void {
  const client = () => new ApiClient(loadConfig());

  program
    .command("bases:build")
    .argument("<name>", "the image's name: REGISTRY/bases/NAME:SUITE")
    .description(
      "build a base image from Debian's packages (debootstrap) and push it to the registry",
    )
    .option(
      "--packages <list>",
      "comma-separated Debian packages on top of minbase, e.g. nodejs",
      "",
    )
    .option("--suite <suite>", "Debian suite", "bookworm")
    .option("--force", "build again even when an image with these packages exists")
    .option("--json", "print the result as JSON")
    .action(
      async (
        name: string,
        options: { packages: string; suite: string; force?: boolean; json?: boolean },
      ) => {
        const packages = options.packages
          .split(",")
          .map((p) => p.trim())
          .filter(Boolean);
        const body = await client().streamPost("/api/v1/bases", {
          name,
          packages,
          suite: options.suite,
          force: options.force === true,
        });
        let failed: BaseBuildLine | undefined;
        for await (const line of body) {
          const event = JSON.parse(line) as BaseBuildLine;
          if (event.type === "progress" && !options.json) print(event.text);
          else if (event.type === "result") {
            const result = event.result as {
              reference: string;
              digest: string;
              reused: boolean;
              sizeBytes: number;
            };
            if (options.json) printJson(result);
            else
              print(
                `${result.reused ? "Pushed the existing" : "Built"} ${result.reference} (${megabytes(result.sizeBytes)}, ${result.digest})\nUse it: FROM ${result.reference}`,
              );
          } else if (event.type === "error") failed = event;
        }
        if (failed?.type === "error") {
          throw new ExitError(
            `skiff: ${failed.message}${failed.hint ? `\n${failed.hint}` : ""}`,
            1,
          );
        }
      },
    );

  program
    .command("bases")
    .description("list base images: name, suite, size, packages, build date")
    .option("--json", "print as JSON")
    .action(async (options: { json?: boolean }) => {
      const { bases } = await client().get<{ bases: BaseImageInfo[] }>("/api/v1/bases");
      if (options.json) return printJson(bases);
      if (bases.length === 0)
        return print("No base images yet. Build one: skiff bases:build node --packages nodejs");
      print(
        table(
          ["REFERENCE", "SIZE", "PACKAGES", "BUILT"],
          bases.map((b) => [
            b.reference,
            megabytes(b.sizeBytes),
            b.packages?.join(",") || "-",
            b.built ? age(b.built) : undefined,
          ]),
        ),
      );
    });
}
