import type { FastifyInstance, FastifyReply } from "fastify";
import { NotFoundError, ValidationError } from "../../errors.js";
import type { Pipeline } from "../../pipeline/pipeline.js";
import {
  isFinalEvent,
  type RunEvent,
  readJournal,
  readStageLog,
  runDir,
} from "../../pipeline/run-events.js";
import { scrubStrings } from "../../secrets/scrubber.js";
import { type RunRecord, type RunStore, STAGES } from "../../state/runs.js";
import type { Store } from "../../state/store.js";

export interface RunRoutesDependencies {
  store: Store;
  runs: RunStore;
  pipeline: Pipeline;
  runsRoot: string;
  /**
   * Takes the app's secrets out of a text. Run logs were scrubbed when
   * written; read again here, for what was logged before a value became a
   * secret (it was a plain var, or printed by a run from before the upgrade).
   */
  scrub?: (text: string, app: string) => string;
}

function runNumber(raw: string): number {
  const number = Number(raw);
  if (!Number.isInteger(number) || number < 1) {
    throw new ValidationError(
      `run "${raw}" is not a run number`,
      "use the number `skiff runs APP` shows",
    );
  }
  return number;
}

/** Runs of an app: list, show, logs, a live event stream, cancel. */
export function registerRunRoutes(app: FastifyInstance, deps: RunRoutesDependencies): void {
  const findRun = (name: string, raw: string): RunRecord => {
    if (!deps.store.getApp(name)) {
      throw new NotFoundError(`no app named "${name}"`, "list the apps with `skiff apps`");
    }
    const run = deps.runs.getRunByNumber(name, runNumber(raw));
    if (!run)
      throw new NotFoundError(
        `${name} has no run ${raw}`,
        `list its runs with \`skiff runs ${name}\``,
      );
    return run;
  };

  app.get<{ Params: { name: string }; Querystring: { limit?: string } }>(
    "/api/v1/apps/:name/runs",
    async (request) => {
      if (!deps.store.getApp(request.params.name)) {
        throw new NotFoundError(
          `no app named "${request.params.name}"`,
          "list the apps with `skiff apps`",
        );
      }
      const limit = Math.min(200, Math.max(1, Number(request.query.limit ?? 50) || 50));
      return { runs: deps.runs.listRuns(request.params.name, limit) };
    },
  );

  app.get<{ Params: { name: string; number: string } }>(
    "/api/v1/apps/:name/runs/:number",
    async (request) => {
      const run = findRun(request.params.name, request.params.number);
      return { run, steps: deps.runs.buildSteps(run.id) };
    },
  );

  app.get<{ Params: { name: string; number: string } }>(
    "/api/v1/apps/:name/runs/:number/log",
    async (request, reply) => {
      const run = findRun(request.params.name, request.params.number);
      const dir = runDir(deps.runsRoot, run.app, run.number);
      const text = STAGES.map((stage) => {
        const log = readStageLog(dir, stage);
        return log ? `--- ${stage} ---\n${log}` : "";
      }).join("");
      reply.type("text/plain; charset=utf-8");
      return deps.scrub ? deps.scrub(text, run.app) : text;
    },
  );

  app.get<{ Params: { name: string; number: string } }>(
    "/api/v1/apps/:name/runs/:number/events",
    async (request, reply) => {
      const run = findRun(request.params.name, request.params.number);
      streamRunEvents(reply, deps, run);
      return reply;
    },
  );

  app.post<{ Params: { name: string; number: string } }>(
    "/api/v1/apps/:name/runs/:number/cancel",
    async (request) => {
      const run = findRun(request.params.name, request.params.number);
      const cancelled = deps.pipeline.cancel(run.id);
      return { cancelled, run: deps.runs.getRun(run.id) };
    },
  );
}

/**
 * Server-Sent Events: the journal from the start, then live events until the
 * run finishes. Subscribing before reading the journal and skipping what it
 * already held means no event is lost or sent twice in between.
 */
function streamRunEvents(reply: FastifyReply, deps: RunRoutesDependencies, run: RunRecord): void {
  const live = deps.pipeline.liveEvents(run.id);
  const pending: RunEvent[] = [];
  let replaying = true;
  let lastSeq = 0;
  const raw = reply.raw;
  reply.hijack();
  raw.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  let unsubscribe: () => void = () => {};
  const close = () => {
    unsubscribe();
    raw.end();
  };
  const send = (event: RunEvent) => {
    if (event.seq <= lastSeq) return;
    lastSeq = event.seq;
    const data = JSON.stringify(
      deps.scrub ? scrubStrings(event, (t) => deps.scrub?.(t, run.app) ?? t) : event,
    );
    raw.write(`id: ${event.seq}\nevent: ${event.type}\ndata: ${data}\n\n`);
    if (isFinalEvent(event)) close();
  };
  if (live) {
    unsubscribe = live.subscribe((event) => (replaying ? pending.push(event) : send(event)));
  }
  raw.on("close", () => unsubscribe());
  for (const event of readJournal(runDir(deps.runsRoot, run.app, run.number))) send(event);
  replaying = false;
  for (const event of pending) send(event);
  // A finished run (or one whose server restarted) has nothing more to say.
  if (!live || live.isFinished) close();
}
