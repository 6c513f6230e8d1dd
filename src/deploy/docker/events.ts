import type Docker from "dockerode";
import { LABELS } from "../../docker/engine.js";

/** Container events that can leave an app short of a serving replica, or with one too many. */
const WAKING_ACTIONS = new Set(["die", "stop", "kill", "oom", "destroy", "health_status", "start"]);
/** How long to wait before subscribing again after the event stream ended (the daemon restarted). */
const RESUBSCRIBE_MS = 1000;

/**
 * Follows Docker's container events for replicas (GET /events, filtered by
 * Skiff's labels) and calls `onChange(app)` for those that can change what
 * an app runs. The stream ends when the daemon restarts; it subscribes again.
 */
export function watchReplicaEvents(
  docker: Docker,
  onChange: (app: string) => void,
  onTrouble: (message: string) => void = () => {},
): { stop(): void } {
  let stopped = false;
  let current: NodeJS.ReadableStream | undefined;
  const follow = async () => {
    while (!stopped) {
      try {
        const stream = (await docker.getEvents({
          filters: { type: ["container"], label: [LABELS.app, LABELS.replica] },
        })) as NodeJS.ReadableStream;
        current = stream;
        let partial = "";
        await new Promise<void>((resolve) => {
          stream.on("data", (chunk: Buffer) => {
            const lines = (partial + chunk.toString("utf8")).split("\n");
            partial = lines.pop() ?? "";
            for (const line of lines) {
              const app = wakingApp(line);
              if (app) onChange(app);
            }
          });
          stream.on("end", resolve);
          stream.on("close", resolve);
          stream.on("error", resolve);
        });
      } catch (error) {
        onTrouble(`Docker events unavailable (${(error as Error).message}); retrying`);
      }
      if (!stopped) await new Promise((resolve) => setTimeout(resolve, RESUBSCRIBE_MS).unref());
    }
  };
  void follow();
  return {
    stop() {
      stopped = true;
      (current as { destroy?: () => void } | undefined)?.destroy?.();
    },
  };
}

/** The app an event line names, when its action is one that wakes the reconciler. */
export function wakingApp(line: string): string | undefined {
  if (!line.trim()) return undefined;
  let event: { Action?: string; Actor?: { Attributes?: Record<string, string> } };
  try {
    event = JSON.parse(line);
  } catch {
    // A line cut by a stream that ended mid-event: the next pass catches up.
    return undefined;
  }
  const action = (event.Action ?? "").split(":")[0] ?? "";
  const app = event.Actor?.Attributes?.[LABELS.app];
  return app && WAKING_ACTIONS.has(action) ? app : undefined;
}
