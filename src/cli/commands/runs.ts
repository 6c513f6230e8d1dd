import type { Command } from "commander";
import type { SkiffConfig } from "../../config.js";
import { ExitError } from "../../errors.js";
import { formatRunEvent } from "../../pipeline/progress-format.js";
import type { RunEvent } from "../../pipeline/run-events.js";
import type { BuildStepRecord, RunRecord } from "../../state/runs.js";
import { ApiClient } from "../api-client.js";
import { age, print, printJson, table } from "../output.js";
import { readServerSentEvents } from "../sse.js";

function duration(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : `${(ms / 1000).toFixed(1)}s`;
}

function runDuration(run: RunRecord): string | undefined {
  if (!run.startedAt) return undefined;
  const end = run.finishedAt ? new Date(run.finishedAt) : new Date();
  return duration(end.getTime() - new Date(run.startedAt).getTime());
}

/**
 * Follows a run's event stream, printing each event as progress; resolves
 * with the final run status (the stream replays from the start).
 */
export async function followRun(client: ApiClient, app: string, number: number): Promise<string> {
  const response = await client.stream(
    `/api/v1/apps/${encodeURIComponent(app)}/runs/${number}/events`,
  );
  let status = "unknown";
  for await (const message of readServerSentEvents(response)) {
    const event = JSON.parse(message.data) as RunEvent;
    const line = formatRunEvent(event);
    if (line !== undefined) print(line);
    if (event.type === "run") status = event.status;
  }
  return status;
}

export function registerRunCommands(program: Command, loadConfig: () => SkiffConfig): void {
  const client = () => new ApiClient(loadConfig());

  program
    .command("runs")
    .argument("<app>")
    .description("list an app's pipeline runs, newest first")
    .option("--json", "print as JSON")
    .action(async (app: string, options: { json?: boolean }) => {
      const { runs } = await client().get<{ runs: RunRecord[] }>(
        `/api/v1/apps/${encodeURIComponent(app)}/runs`,
      );
      if (options.json) return printJson(runs);
      if (runs.length === 0)
        return print(`${app} has no runs yet. Push to it: git push <remote> main`);
      print(
        table(
          ["RUN", "STATUS", "TRIGGER", "BY", "COMMIT", "RELEASE", "DURATION", "CREATED", "REASON"],
          runs.map((r) => [
            r.number,
            r.status,
            r.trigger,
            r.actor,
            r.commit?.slice(0, 12),
            r.releaseNumber !== undefined ? `r${r.releaseNumber}` : undefined,
            runDuration(r),
            age(r.createdAt),
            r.reason,
          ]),
        ),
      );
    });

  program
    .command("runs:show")
    .argument("<app>")
    .argument("<run>", "run number")
    .description("show a run: its stages with status and timings, and the build steps")
    .option("--json", "print as JSON")
    .action(async (app: string, number: string, options: { json?: boolean }) => {
      const { run, steps } = await client().get<{ run: RunRecord; steps: BuildStepRecord[] }>(
        `/api/v1/apps/${encodeURIComponent(app)}/runs/${encodeURIComponent(number)}`,
      );
      if (options.json) return printJson({ run, steps });
      print(
        `Run ${run.number} of ${run.app}: ${run.status}${run.reason ? ` (${run.reason})` : ""}`,
      );
      print(
        `trigger ${run.trigger}${run.commit ? `, commit ${run.commit.slice(0, 12)}` : ""}${run.ref ? `, ${run.ref}` : ""}`,
      );
      print("");
      print(
        table(
          ["STAGE", "STATUS", "STARTED", "DURATION"],
          run.stages.map((s) => [s.name, s.status, s.startedAt, duration(s.durationMs)]),
        ),
      );
      if (steps.length) {
        print("");
        print(
          table(
            ["SERVICE", "STEP", "CACHED", "DURATION"],
            steps.map((s) => [s.service, s.name, s.cached ? "CACHED" : "", duration(s.durationMs)]),
          ),
        );
      }
    });

  program
    .command("runs:logs")
    .argument("<app>")
    .argument("<run>", "run number")
    .description("print a run's log; -f follows it live until the run ends")
    .option("-f, --follow", "stream the run's progress until it finishes")
    .action(async (app: string, number: string, options: { follow?: boolean }) => {
      const api = client();
      if (options.follow) {
        const status = await followRun(api, app, Number(number));
        if (status !== "succeeded") throw new ExitError("", 1);
        return;
      }
      process.stdout.write(
        await api.text(
          `/api/v1/apps/${encodeURIComponent(app)}/runs/${encodeURIComponent(number)}/log`,
        ),
      );
    });

  program
    .command("runs:cancel")
    .argument("<app>")
    .argument("<run>", "run number")
    .description("cancel a queued or running run; nothing it had not published is kept")
    .option("--json", "print as JSON")
    .action(async (app: string, number: string, options: { json?: boolean }) => {
      const result = await client().post<{ cancelled: boolean; run: RunRecord }>(
        `/api/v1/apps/${encodeURIComponent(app)}/runs/${encodeURIComponent(number)}/cancel`,
        {},
      );
      if (options.json) return printJson(result);
      print(
        result.cancelled
          ? `Cancelling run ${number} of ${app}.`
          : `Run ${number} of ${app} already ended: ${result.run.status}.`,
      );
    });
}
