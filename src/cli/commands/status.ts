import type { Command } from "commander";
import type { SkiffConfig } from "../../config.js";
import { ExitError } from "../../errors.js";
import type { StatusReport } from "../../runtime/status.js";
import { ApiClient } from "../api-client.js";
import { print, printJson, table } from "../output.js";

export function registerStatusCommands(program: Command, loadConfig: () => SkiffConfig): void {
  program
    .command("status")
    .description(
      "report Skiff's version and whether Docker, the registry, the edge and the database are up",
    )
    .option("--json", "print the report as JSON")
    .action(async (options: { json?: boolean }) => {
      const status = await new ApiClient(loadConfig()).get<StatusReport>("/api/v1/status");
      if (options.json) printJson(status);
      else {
        print(`Skiff ${status.version}`);
        const rows = Object.entries(status.components).map(([name, c]) => [
          name,
          c.up ? "up" : "DOWN",
          c.version,
          c.address,
          c.pid,
        ]);
        print(table(["COMPONENT", "STATE", "VERSION", "ADDRESS", "PID"], rows));
        if (status.reconciler) {
          const { apps, durationMs, finishedAt } = status.reconciler;
          print(
            `\nreconciler: last pass over ${apps} app(s) took ${durationMs} ms, at ${finishedAt}`,
          );
        }
        for (const [name, c] of Object.entries(status.components)) {
          if (!c.up) print(`\n${name}: ${c.error}\n  fix: ${c.hint ?? "see skiff events"}`);
        }
      }
      // Exit 1 so scripts can gate on a healthy platform.
      if (!status.ok) throw new ExitError("", 1);
    });

  program
    .command("events")
    .description("what happened to the platform: components started, adopted, died, restarted")
    .option("--limit <n>", "how many, newest first", "50")
    .option("--json", "print as JSON")
    .action(async (options: { limit: string; json?: boolean }) => {
      const { events } = await new ApiClient(loadConfig()).get<{
        events: { at: string; component: string; kind: string; message: string }[];
      }>(`/api/v1/events?limit=${encodeURIComponent(options.limit)}`);
      if (options.json) printJson(events);
      else
        print(
          table(
            ["TIME", "COMPONENT", "EVENT", "MESSAGE"],
            events.map((e) => [e.at, e.component, e.kind, e.message]),
          ),
        );
    });
}
