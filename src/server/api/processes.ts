import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from "fastify";
import { formatAddress } from "../../address.js";
import { type Deployer, DeployFailure } from "../../deploy/deployer.js";
import type { ProcessInfo } from "../../deploy/ps.js";
import { planOfRecord } from "../../deploy/release.js";
import { DependencyError, NotFoundError, SkiffError, ValidationError } from "../../errors.js";
import { scrubStrings } from "../../secrets/scrubber.js";
import type { DeploymentStore } from "../../state/deployments.js";
import type { RunStore } from "../../state/runs.js";
import type { Store } from "../../state/store.js";

/** The most replicas `skiff scale` sets for one service (the deployer's own bound). */
export const MAX_REPLICAS = 100;

/**
 * What ps, scale and restart use of the Deployer. It must be the instance
 * the pipeline deploys with: its per-app lock is what keeps a scale from
 * interleaving with a deploy.
 */
export type ProcessControl = Pick<Deployer, "ps" | "scale" | "restart" | "busy">;

/** The deploy engine as the HTTP layer sees it. */
export interface DeployEngine {
  deployer: ProcessControl;
  deployments: DeploymentStore;
}

export interface ProcessRoutesDependencies {
  store: Store;
  runs: RunStore;
  /** Absent when no deploy engine is configured: these routes then answer 502. */
  engine?: DeployEngine;
  now?: () => Date;
  /** Takes every secret out of a progress line (a failing replica's log may print one). */
  scrub?: (text: string, app: string) => string;
}

/** One replica as `skiff ps` shows it. */
export interface ProcessView {
  service: string;
  replica: number;
  release: number;
  /** Docker's state: running, restarting, exited, ... */
  state: string;
  health?: "starting" | "healthy" | "unhealthy";
  /** Where the replica answers on this host, e.g. 127.0.0.1:32768. */
  hostPort?: string;
  /** Seconds since the container started; only while it runs. */
  uptime?: number;
  restarts: number;
  container: string;
}

/** One line of a scale's or restart's NDJSON progress stream. */
export type OperationLine =
  | { type: "log"; service?: string; text: string }
  | { type: "result"; ok: true }
  | { type: "result"; ok: false; error: string; hint?: string; logTail?: string[] };

/** Turns a replica Docker reported into the API's view of it. */
export function toProcessView(replica: ProcessInfo, now: Date): ProcessView {
  const started = replica.startedAt ? Date.parse(replica.startedAt) : Number.NaN;
  return {
    service: replica.service,
    replica: replica.replica,
    release: replica.release,
    state: replica.state,
    ...(replica.health ? { health: replica.health } : {}),
    ...(replica.address ? { hostPort: formatAddress(replica.address) } : {}),
    ...(replica.state === "running" && Number.isFinite(started)
      ? { uptime: Math.max(0, Math.floor((now.getTime() - started) / 1000)) }
      : {}),
    restarts: replica.restarts,
    container: replica.name,
  };
}

/**
 * Reads a scale request, `{ "web": 3, "worker": 0 }`: an object of service
 * names to whole numbers from 0 to MAX_REPLICAS. Throws a ValidationError
 * naming the first bad entry.
 */
export function parseScaleBody(body: unknown): Record<string, number> {
  const example = 'e.g. {"web": 3, "worker": 0} (skiff scale APP web=3 worker=0)';
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ValidationError("the scale body must be an object of service → replicas", example);
  }
  const entries = Object.entries(body);
  if (entries.length === 0) {
    throw new ValidationError("the scale body names no service", example);
  }
  for (const [service, replicas] of entries) {
    if (
      typeof replicas !== "number" ||
      !Number.isInteger(replicas) ||
      replicas < 0 ||
      replicas > MAX_REPLICAS
    ) {
      throw new ValidationError(
        `replicas for ${JSON.stringify(service)} must be a whole number from 0 to ${MAX_REPLICAS} (got ${JSON.stringify(replicas)})`,
        example,
      );
    }
  }
  return Object.fromEntries(entries) as Record<string, number>;
}

/** Reads a restart request, `{ service?: string }`. */
function restartService(body: unknown): string | undefined {
  const value = (body ?? {}) as { service?: unknown };
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new ValidationError("the restart body must be a JSON object", 'e.g. {"service": "web"}');
  }
  if (value.service !== undefined && (typeof value.service !== "string" || !value.service)) {
    throw new ValidationError(
      `service ${JSON.stringify(value.service)} is not a service name`,
      'e.g. {"service": "web"}, or {} to restart every service',
    );
  }
  return value.service;
}

/**
 * Writes an operation's progress as NDJSON and its outcome as the last line.
 * Headers go out at once, so a client sees that the work started while it
 * waits for health checks. The operation runs to its end even when the
 * client goes away: the deployer cannot stop halfway without leaving the app
 * between two states, and it converges to the persisted desired state anyway.
 */
async function streamOperation(
  reply: FastifyReply,
  log: FastifyBaseLogger,
  scrub: (text: string) => string,
  start: string,
  work: (progress: (text: string, service?: string) => void) => Promise<void>,
): Promise<void> {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    "content-type": "application/x-ndjson; charset=utf-8",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
  });
  // The answer is streamed past the server's own scrubbing (http.ts), so each line is scrubbed here.
  const send = (line: OperationLine) => {
    if (!raw.destroyed) raw.write(`${JSON.stringify(scrubStrings(line, scrub))}\n`);
  };
  const progress = (text: string, service?: string) => {
    for (const line of text.split("\n")) {
      if (line) send({ type: "log", ...(service ? { service } : {}), text: line });
    }
  };
  progress(start);
  try {
    await work(progress);
    send({ type: "result", ok: true });
  } catch (error) {
    if (!(error instanceof SkiffError) && !(error instanceof DeployFailure)) {
      log.error({ err: error }, "operation failed");
    }
    send({
      type: "result",
      ok: false,
      error: (error as Error).message,
      ...(error instanceof SkiffError && error.hint ? { hint: error.hint } : {}),
      ...(error instanceof DeployFailure
        ? {
            hint: "the replicas that served before keep serving",
            ...(error.logTail.length > 0 ? { logTail: error.logTail } : {}),
          }
        : {}),
    });
  }
  raw.end();
}

/** The app's replicas (`ps`) and the operations on them: scale and restart. */
export function registerProcessRoutes(app: FastifyInstance, deps: ProcessRoutesDependencies): void {
  const now = deps.now ?? (() => new Date());
  const scrubberOf =
    (app: string) =>
    (text: string): string =>
      deps.scrub ? deps.scrub(text, app) : text;

  const requireApp = (name: string) => {
    if (!deps.store.getApp(name)) {
      throw new NotFoundError(`no app named "${name}"`, "list the apps with `skiff apps`");
    }
  };
  const requireEngine = (): DeployEngine => {
    if (!deps.engine) {
      throw new DependencyError(
        "this server has no deploy engine, so it runs no replicas",
        "start the server with Docker available (skiff status shows what is missing)",
      );
    }
    return deps.engine;
  };
  /**
   * The services of the live release, checked before the stream starts so
   * the usual mistakes answer 4xx; the deployer checks again under its lock.
   */
  const liveServices = (
    engine: DeployEngine,
    name: string,
  ): { release: number; names: string[] } => {
    const live = engine.deployments.desired(name).release;
    const release = live !== undefined ? deps.runs.getReleaseByNumber(name, live) : undefined;
    if (live === undefined || !release) {
      throw new NotFoundError(
        `${name} has no live release yet`,
        "deploy one first (git push, or skiff deploy)",
      );
    }
    return { release: live, names: planOfRecord(release).services.map((s) => s.name) };
  };
  const requireService = (name: string, services: string[], service: string) => {
    if (!services.includes(service)) {
      throw new ValidationError(
        `${name} has no service named "${service}"`,
        `services of the live release: ${services.join(", ")}`,
      );
    }
  };
  const waiting = (engine: DeployEngine, name: string) =>
    engine.deployer.busy(name)
      ? ` (waiting for the deploy, scale or restart of ${name} in progress)`
      : "";

  app.get<{ Params: { name: string } }>("/api/v1/apps/:name/ps", async (request) => {
    const name = request.params.name;
    requireApp(name);
    const engine = requireEngine();
    let replicas: Awaited<ReturnType<ProcessControl["ps"]>>;
    try {
      replicas = await engine.deployer.ps(name);
    } catch (error) {
      throw new DependencyError(
        `cannot list the containers of ${name}: ${(error as Error).message}`,
        "check that the Docker Engine runs (skiff status)",
      );
    }
    const at = now();
    const views = replicas.map((r) => toProcessView(r, at));
    views.sort(
      (a, b) =>
        a.service.localeCompare(b.service) || a.replica - b.replica || a.release - b.release,
    );
    return { replicas: views };
  });

  app.post<{ Params: { name: string }; Body: unknown }>(
    "/api/v1/apps/:name/scale",
    async (request, reply) => {
      const name = request.params.name;
      requireApp(name);
      const counts = parseScaleBody(request.body);
      const engine = requireEngine();
      const live = liveServices(engine, name);
      for (const service of Object.keys(counts)) requireService(name, live.names, service);
      const summary = Object.entries(counts)
        .map(([service, replicas]) => `${service} to ${replicas}`)
        .join(", ");
      await streamOperation(
        reply,
        request.log,
        scrubberOf(name),
        `scaling ${summary} (release r${live.release})${waiting(engine, name)}`,
        (progress) => engine.deployer.scale(name, counts, progress),
      );
      return reply;
    },
  );

  app.post<{ Params: { name: string }; Body: unknown }>(
    "/api/v1/apps/:name/restart",
    async (request, reply) => {
      const name = request.params.name;
      requireApp(name);
      const service = restartService(request.body);
      const engine = requireEngine();
      const live = liveServices(engine, name);
      if (service !== undefined) requireService(name, live.names, service);
      await streamOperation(
        reply,
        request.log,
        scrubberOf(name),
        `restarting ${service ?? "every service"} of ${name} (release r${live.release}), new replicas before old go${waiting(engine, name)}`,
        (progress) => engine.deployer.restart(name, service, progress),
      );
      return reply;
    },
  );
}
