import type { RunEvent } from "./run-events.js";

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/**
 * One line of human progress for an event, in the style of Heroku's build
 * output: stage headers start with "----->", log lines are indented under
 * them. The same text reaches `git push` as `remote:` lines and `skiff
 * runs:logs -f`. Undefined for events that have nothing to show.
 */
export function formatRunEvent(event: RunEvent): string | undefined {
  switch (event.type) {
    case "stage":
      if (event.status === "running") return `-----> ${event.stage}`;
      if (event.status === "pending") return undefined;
      return `-----> ${event.stage} ${event.status}${event.durationMs !== undefined ? ` in ${seconds(event.durationMs)}` : ""}`;
    case "log":
      return `       ${event.service ? `[${event.service}] ` : ""}${event.text}`;
    case "run":
      if (event.status === "queued") return "-----> queued";
      if (event.status === "running") return undefined;
      if (event.status === "rolling-back")
        return "-----> rolling back: the previous release keeps serving";
      return `=====> run ${event.status}${event.reason ? `: ${event.reason}` : ""}`;
  }
}
