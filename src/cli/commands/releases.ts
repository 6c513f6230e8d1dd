import type { Command } from "commander";
import type { SkiffConfig } from "../../config.js";
import { ExitError } from "../../errors.js";
import type { ReleasesAnswer, ReleaseView, RollbackAnswer } from "../../server/api/releases.js";
import { ApiClient } from "../api-client.js";
import { print, printJson, table } from "../output.js";
import { followRun } from "./runs.js";

/** Exit code of a usage error (DESIGN.md). */
const EXIT_USAGE = 2;

/** A span of time in its largest whole unit: 5s, 3m, 2h, 4d. */
export function shortDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** How long ago an ISO time was, as shortDuration. */
export function shortAge(iso: string, now: Date): string {
  return shortDuration((now.getTime() - Date.parse(iso)) / 1000);
}

/** `3` or `r3` → 3; anything else is a usage error naming it. */
export function parseReleaseArgument(text: string): number {
  const match = /^r?(\d+)$/i.exec(text.trim());
  const number = match ? Number(match[1]) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < 1) {
    throw new ExitError(
      `skiff: "${text}" is not a release number; use 3 or r3 (skiff releases APP lists them)`,
      EXIT_USAGE,
    );
  }
  return number;
}

/** A digest without its algorithm, cut to 12 characters, like `docker images`. */
function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, "").slice(0, 12);
}

/** The `skiff releases` table's rows, newest first as the API gives them. */
export function releaseRows(answer: ReleasesAnswer, now: Date): (string | number | undefined)[][] {
  return answer.releases.map((r: ReleaseView) => [
    `r${r.number}${r.number === answer.live ? " (live)" : ""}`,
    r.commit?.slice(0, 12),
    r.status,
    r.rollbackOf !== undefined ? `rollback to r${r.rollbackOf}` : r.trigger,
    r.actor,
    shortAge(r.createdAt, now),
    r.images.map((i) => `${i.service}@${shortDigest(i.digest)}`).join(", ") || undefined,
  ]);
}

export function registerReleaseCommands(program: Command, loadConfig: () => SkiffConfig): void {
  const client = () => new ApiClient(loadConfig());

  program
    .command("releases")
    .argument("<app>")
    .description("list an app's releases, newest first, with the live one marked")
    .option("--json", "print as JSON")
    .action(async (app: string, options: { json?: boolean }) => {
      const answer = await client().get<ReleasesAnswer>(
        `/api/v1/apps/${encodeURIComponent(app)}/releases`,
      );
      if (options.json) return printJson(answer);
      if (answer.releases.length === 0)
        return print(`${app} has no releases yet. Push to it: git push <remote> main`);
      print(
        table(
          ["RELEASE", "COMMIT", "STATUS", "TRIGGER", "BY", "AGE", "IMAGES"],
          releaseRows(answer, new Date()),
        ),
      );
    });

  program
    .command("rollback")
    .argument("<app>")
    .argument("[release]", "the release to run again, as 3 or r3; default: the one live before")
    .description(
      "deploy an earlier release's images again as a new release (health-gated) and follow it",
    )
    .option("--force", "allow a release that never served (its deploy failed or never ran)")
    .action(async (app: string, release: string | undefined, options: { force?: boolean }) => {
      const requested = release === undefined ? undefined : parseReleaseArgument(release);
      const api = client();
      const { run, rollbackTo } = await api.post<RollbackAnswer>(
        `/api/v1/apps/${encodeURIComponent(app)}/rollback`,
        {
          ...(requested !== undefined ? { release: requested } : {}),
          ...(options.force ? { force: true } : {}),
        },
      );
      print(`skiff: run ${run} of ${app}: rollback to r${rollbackTo}`);
      const status = await followRun(api, app, run);
      if (status !== "succeeded") throw new ExitError("", 1);
    });
}
