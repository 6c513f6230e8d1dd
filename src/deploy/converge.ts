import type { Edge } from "../edge/edge.js";
import type { Plan } from "../spec/index.js";
import { desiredState } from "./desired.js";
import { edgeHealthOf } from "./edge-health.js";
import { toEdgeAppState } from "./edge-targets.js";
import type { Engine, Log, Replica } from "./engine.js";
import type { DeployRelease } from "./release.js";
import { stopsFirst } from "./rollout.js";

/**
 * Whether the reconciler may try to start a replica of a service now: it
 * waits longer after each failed try (its backoff), so a replica that
 * cannot start does not cost a container every pass.
 */
export interface StartPolicy {
  mayStart(app: string, service: string, release: number): boolean;
  started(app: string, service: string, release: number): void;
  /** Records a failed start; returns when the next try is, in words (e.g. "next try in 10 s"). */
  failed(app: string, service: string, release: number): string;
}

/** Tries every time (a deploy's own converge, tests). */
export const ALWAYS_START: StartPolicy = {
  mayStart: () => true,
  started: () => {},
  failed: () => "the next reconcile tries again",
};

export interface ConvergeInput {
  app: string;
  /** The live release, if the app has one. */
  release: DeployRelease | undefined;
  scale: Readonly<Record<string, number>>;
  /** The app's replicas, without those being retired. */
  current: Replica[];
  /** The release's files per service, read only when a replica must start. */
  files: () => Record<string, Buffer>;
  policy: StartPolicy;
  log: Log;
  /** Things the platform did by itself (a replaced replica), for `skiff events`. */
  recordEvent?: (message: string) => void;
}

export interface ConvergeDeps {
  engine: Engine;
  edge: Edge;
  /** Retires replicas in the background. */
  retire(replicas: readonly Replica[]): void;
  /** Waits until no replica of these services is still being retired. */
  untilRetired(app: string, services: readonly string[]): Promise<void>;
  /** The running replicas whose service's HTTP check fails now (http-health-watch.ts). */
  httpUnhealthy: (plan: Plan, replicas: readonly Replica[]) => Promise<Set<string>>;
}

/**
 * Brings one app to its desired state: the live release with the wanted
 * replicas per service, each serving, on the edge; everything else retired.
 * Missing replicas start (and must be healthy) before anything is taken
 * away, so traffic is served throughout, except for stop-first services,
 * whose leftovers go first: they never run twice. Best effort per replica:
 * one that cannot start is reported and tried again later.
 */
export async function converge(deps: ConvergeDeps, input: ConvergeInput): Promise<void> {
  const { engine, edge } = deps;
  const { app, release, current, log } = input;
  if (!release) {
    if (current.length > 0) {
      log(`removing ${current.length} container(s): ${app} has no live release`);
      // Its containers go even when the edge cannot be told now: the edge's
      // desired state no longer has the app, and its next resync removes it.
      await edge
        .removeApp(app)
        .catch((error: Error) => log(`edge: could not remove ${app} now: ${error.message}`));
      deps.retire(current);
    }
    return;
  }
  const { plan } = release;
  // Docker watches a replica's own healthcheck; an HTTP check is Skiff's to
  // run, except for a replica the edge's own check (a check a second, the
  // same path and Host) sees up right now: asking HAProxy costs a pass far
  // less than a connection to every replica of every app.
  const routed = new Set(plan.services.filter((s) => s.routes.length > 0).map((s) => s.name));
  const upOnEdge = await edgeHealthOf(
    edge,
    app,
    current.filter((r) => routed.has(r.service)),
  );
  const failing = await deps.httpUnhealthy(
    plan,
    current.filter((r) => upOnEdge.get(r.id) !== "healthy"),
  );
  const replicas = current.map((r) =>
    failing.has(r.id) ? { ...r, health: "unhealthy" as const } : r,
  );
  const decision = desiredState({
    plan,
    fingerprints: release.fingerprints,
    scale: input.scale,
    current: replicas,
  });
  let images: Record<string, string> | undefined;
  const serving: Replica[] = [];
  const removedNow = new Set<string>();
  for (const { service, keep, start, retire } of decision.services) {
    serving.push(...keep);
    if (start.length === 0) continue;
    if (!input.policy.mayStart(app, service.name, release.number)) continue;
    if (stopsFirst(service)) {
      // Never two on one volume: what is left of this service (a dead or
      // unhealthy replica, one of an older release after a crash, one still
      // stopping in the background) is gone before a new one starts.
      // Replicas of services the plan no longer has go too: one may be the
      // same database under its old name, on the same volume.
      const stale = [...retire, ...decision.strays].filter((r) => !removedNow.has(r.id));
      await deps.untilRetired(app, [service.name, ...decision.strays.map((r) => r.service)]);
      await Promise.all(stale.map((r) => engine.remove(r)));
      for (const r of stale) removedNow.add(r.id);
    }
    images ??= await engine.prepare({ app, volumes: plan.volumes, images: release.images, log });
    const files = input.files()[service.name];
    let nextTry: string | undefined;
    for (const place of start) {
      const replaced = retire.find((r) => r.replica === place);
      try {
        const [fresh] = await engine.start(
          app,
          [
            {
              service,
              release: release.number,
              replica: place,
              image: images[service.name] as string,
              fingerprint: release.fingerprints[service.name] as string,
              ...(files ? { files } : {}),
            },
          ],
          { log: (text) => log(text, service.name) },
        );
        if (fresh) serving.push(fresh);
        const why = replaced
          ? `replaced replica ${place} (${replaced.state}${replaced.health ? `, ${replaced.health}` : ""})`
          : `started replica ${place}`;
        log(why, service.name);
        input.recordEvent?.(`${service.name}: ${why} of r${release.number}`);
        input.policy.started(app, service.name, release.number);
      } catch (error) {
        // One backoff step per pass, however many places failed.
        nextTry ??= input.policy.failed(app, service.name, release.number);
        const reason = (error as Error).message;
        log(`replica ${place} did not start: ${reason}; ${nextTry}`, service.name);
        input.recordEvent?.(
          `${service.name}: replica ${place} of r${release.number} did not start: ${reason}`,
        );
      }
    }
  }
  if (plan.services.some((s) => s.routes.length > 0)) {
    await edge.setApp(app, toEdgeAppState(plan, serving));
  }
  const gone = [...decision.services.flatMap((d) => d.retire), ...decision.strays].filter(
    (r) => !removedNow.has(r.id),
  );
  if (gone.length > 0) {
    log(`removing ${gone.length} container(s) the desired state does not have`);
    deps.retire(gone);
  }
}
