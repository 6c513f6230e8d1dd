// Turning the API's values into what a person reads.

/** "just now", "42 s ago", "3 min ago", "2 h ago", "5 days ago". */
export function timeAgo(iso, now = Date.now()) {
  const seconds = Math.floor((now - Date.parse(iso)) / 1000);
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 5) return "just now";
  return `${span(seconds)} ago`;
}

/** A span of seconds in its largest whole unit: "42 s", "3 min", "2 h", "5 days". */
export function span(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h`;
  const days = Math.floor(s / 86_400);
  return `${days} ${days === 1 ? "day" : "days"}`;
}

/** Milliseconds as "0.4 s", "12.3 s", "2 min 5 s". */
export function duration(ms) {
  if (ms === undefined || ms === null) return "";
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** A local date and time, for a tooltip beside a relative time. */
export function localTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString();
}

export function shortCommit(commit) {
  return commit ? commit.slice(0, 12) : "";
}

const TONES = {
  live: "good",
  succeeded: "good",
  running: "busy",
  "rolling-back": "bad",
  healthy: "good",
  queued: "busy",
  starting: "busy",
  restarting: "bad",
  failed: "bad",
  unhealthy: "bad",
  exited: "bad",
  dead: "bad",
  interrupted: "bad",
  cancelled: "muted",
  superseded: "muted",
  skipped: "muted",
  pending: "muted",
  published: "neutral",
};

/** The colour family of a status: good, bad, busy, muted or neutral. */
export function tone(status) {
  return TONES[status] ?? "neutral";
}

/** Whether a run ended (the statuses after which its event stream closes). */
export function isFinished(status) {
  return ["succeeded", "failed", "cancelled", "superseded", "interrupted"].includes(status);
}

/**
 * One line of a run's log for an event, as `git push` and `skiff runs:logs -f`
 * print it (src/pipeline/progress-format.ts): "-----> build", indented log
 * lines, "=====> run succeeded". Undefined for events with nothing to show.
 */
export function formatRunEvent(event) {
  switch (event.type) {
    case "stage":
      if (event.status === "running") return `-----> ${event.stage}`;
      if (event.status === "pending") return undefined;
      return `-----> ${event.stage} ${event.status}${
        event.durationMs !== undefined ? ` in ${(event.durationMs / 1000).toFixed(1)}s` : ""
      }`;
    case "log":
      return `       ${event.service ? `[${event.service}] ` : ""}${event.text}`;
    case "run":
      if (event.status === "queued") return "-----> queued";
      if (event.status === "running") return undefined;
      if (event.status === "rolling-back") {
        return "-----> rolling back: the previous release keeps serving";
      }
      return `=====> run ${event.status}${event.reason ? `: ${event.reason}` : ""}`;
    default:
      return undefined;
  }
}
