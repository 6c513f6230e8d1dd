import type { Edge } from "../edge/edge.js";
import { NotFoundError, ValidationError } from "../errors.js";
import type { DeploymentStore } from "../state/deployments.js";
import type { ReleaseFileStore } from "../state/release-files.js";
import { AppLocks } from "./app-locks.js";
import { ALWAYS_START, type ConvergeDeps, converge, type StartPolicy } from "./converge.js";
import { desiredState } from "./desired.js";
import type { Engine, Log, Replica } from "./engine.js";
import { ReplicaFailure } from "./engine.js";
import { httpUnhealthy } from "./http-health-watch.js";
import { listProcesses, type ProcessInfo } from "./ps.js";
import type { DeployRelease, ReleaseReader } from "./release.js";
import { ReplicaSurvey } from "./replica-survey.js";
import { Retirements, SETTLE_MS } from "./retirements.js";
import { rollOut, stopsFirst } from "./rollout.js";

export type { Log } from "./engine.js";

export interface DeployerOptions {
  engine: Engine;
  edge: Edge;
  releases: ReleaseReader;
  deployments: DeploymentStore;
  /** Where each release's files are kept; an app's go when it is forgotten. */
  releaseFiles?: ReleaseFileStore;
  /** Things the platform did by itself (a replaced replica), for `skiff events`. */
  recordEvent?: (app: string, message: string) => void;
  /** How long replaced replicas wait out of the edge before they stop. Default SETTLE_MS. */
  settleMs?: number;
  /** Default: Skiff's own HTTP checks of the replicas (http-health-watch.ts). */
  httpUnhealthy?: ConvergeDeps["httpUnhealthy"];
}

/** A deploy that did not go live: the reason and the failing replica's last log lines. */
export class DeployFailure extends Error {
  constructor(
    message: string,
    readonly logTail: string[],
  ) {
    super(message);
    this.name = "DeployFailure";
  }
}

/** How a deploy reports that it failed and is being undone. */
export interface DeployOptions {
  signal?: AbortSignal;
  onRollingBack?: (reason: Error) => void;
}

/**
 * Runs releases on an Engine behind an Edge, and keeps them running. Every
 * operation on one app (deploy, scale, restart, reconcile, forget) holds
 * that app's lock, so they never interleave; different apps proceed in
 * parallel. Old replicas are retired in the background, outside the lock.
 */
export class Deployer {
  private readonly locks = new AppLocks();
  private readonly retirements: Retirements;
  /** Per app, how many times the deployer changed its replicas: what makes a survey stale. */
  private readonly changes = new Map<string, number>();
  private readonly settleMs: number;

  constructor(private readonly options: DeployerOptions) {
    this.settleMs = options.settleMs ?? SETTLE_MS;
    this.retirements = new Retirements(
      options.engine,
      (replica, error) => this.reportRetireFailure(replica, error),
      (replica) => this.changed(replica.app),
    );
  }

  /** Makes release `number` of `app` live through a health-gated rollout; throws DeployFailure. */
  deploy(app: string, number: number, log: Log, options: DeployOptions = {}): Promise<void> {
    return this.exclusive(app, async () => {
      const { deployments, releases } = this.options;
      const release = releases.get(app, number);
      const desired = deployments.desired(app);
      const live = desired.release !== undefined ? releases.find(app, desired.release) : undefined;
      let retire: Replica[];
      try {
        ({ retire } = await this.rollOut(app, release, live, log, options, desired.scale));
      } catch (error) {
        deployments.markFailed(app, number);
        throw asDeployFailure(error);
      }
      deployments.setLive(app, number);
      log(
        retire.length > 0
          ? `release r${number} is live; ${retire.length} old replica(s) stop in the background in ${this.settleMs / 1000} s, each with its stop_grace_period`
          : `release r${number} is live`,
      );
      this.retirements.retire(retire, { afterMs: this.settleMs });
    });
  }

  /** Sets replica counts (persisted) and converges to them without dropping a request. */
  scale(app: string, counts: Record<string, number>, log: Log): Promise<void> {
    return this.exclusive(app, async () => {
      const { plan } = this.liveRelease(app);
      for (const [service, replicas] of Object.entries(counts)) {
        const planned = plan.services.find((s) => s.name === service);
        if (!planned) {
          throw new ValidationError(
            `${app} has no service named "${service}"`,
            `services of the live release: ${plan.services.map((s) => s.name).join(", ")}`,
          );
        }
        if (planned.kind === "stateful" && replicas > 1) {
          throw new ValidationError(
            `${service} is stateful (it has a named volume), so it runs at most one replica: two would share the volume`,
            `scale it to 0 or 1; a service that must run many replicas keeps its data in another service`,
          );
        }
        if (!Number.isInteger(replicas) || replicas < 0 || replicas > 100) {
          throw new ValidationError(
            `replicas for ${service} must be a whole number from 0 to 100 (got ${replicas})`,
            "e.g. skiff scale APP web=3",
          );
        }
      }
      this.options.deployments.setScale(app, counts);
      await this.converge(app, log, ALWAYS_START);
    });
  }

  /** Replaces every replica (of one service or all) with a fresh one, new before old goes. */
  restart(app: string, service: string | undefined, log: Log): Promise<void> {
    return this.exclusive(app, async () => {
      const release = this.liveRelease(app);
      const services = release.plan.services.map((s) => s.name);
      if (service && !services.includes(service)) {
        throw new ValidationError(
          `${app} has no service named "${service}"`,
          `services of the live release: ${services.join(", ")}`,
        );
      }
      const scale = this.options.deployments.desired(app).scale;
      try {
        const { retire } = await this.rollOut(app, release, release, log, {}, scale, {
          restart: service ? [service] : services,
        });
        this.retirements.retire(retire, { afterMs: this.settleMs });
      } catch (error) {
        throw asDeployFailure(error);
      }
    });
  }

  /**
   * Stops everything of `app` (it is being destroyed): the desired state is
   * forgotten first, so the reconciler does not start it again, then its
   * routes leave the edge and its replicas are removed. Returns the domains
   * that routed to it and the replicas removed.
   */
  forget(app: string): Promise<{ domains: string[]; containers: string[] }> {
    return this.exclusive(app, async () => {
      this.options.deployments.forget(app);
      const { domains } = await this.options.edge.removeApp(app);
      const containers = await this.options.engine.tearDown(app);
      this.options.releaseFiles?.forget(app);
      return { domains, containers };
    });
  }

  /** The app's replicas for `skiff ps`. */
  ps(app: string): Promise<ProcessInfo[]> {
    return listProcesses({
      engine: this.options.engine,
      edge: this.options.edge,
      app,
      retiring: (id) => this.retirements.has(id),
    });
  }

  /**
   * Brings one app to its desired state (converge.ts); `policy` is the
   * reconciler's backoff for replicas that fail to start. A pass over all
   * apps hands in its survey, so the app is not listed again unless the
   * survey is stale for it.
   */
  reconcile(
    app: string,
    log: Log = () => {},
    policy: StartPolicy = ALWAYS_START,
    survey?: ReplicaSurvey,
  ): Promise<void> {
    return this.exclusive(app, () => this.converge(app, log, policy, survey));
  }

  /** Every app with a live release or with replicas, and all replicas from one listing. */
  async survey(): Promise<ReplicaSurvey> {
    const marks = new Map(this.changes);
    const replicas = await this.options.engine.list();
    return new ReplicaSurvey(
      this.options.deployments.deployedApps(),
      replicas,
      marks,
      (app) => this.changes.get(app) ?? 0,
    );
  }

  /** True while a deploy, scale, restart or reconcile of `app` runs or waits. */
  busy(app: string): boolean {
    return this.locks.busy(app);
  }

  /** Resolves once every replica being retired in the background is gone (for shutdown and tests). */
  retired(): Promise<void> {
    return this.retirements.all();
  }

  private async rollOut(
    app: string,
    release: DeployRelease,
    live: DeployRelease | undefined,
    log: Log,
    options: DeployOptions,
    scale: Readonly<Record<string, number>>,
    restart?: { restart: readonly string[] },
  ): Promise<{ retire: Replica[] }> {
    const { engine, edge, releases } = this.options;
    const { plan } = release;
    const images = await engine.prepare({
      app,
      volumes: plan.volumes,
      images: release.images,
      log,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    // A stop-first service's old replica still stopping in the background must be gone first.
    await this.retirements.until(
      app,
      plan.services.filter(stopsFirst).map((s) => s.name),
    );
    const decision = desiredState({
      plan,
      fingerprints: release.fingerprints,
      scale,
      current: await this.replicasOf(app),
      ...restart,
    });
    return rollOut(
      { engine, edge },
      {
        app,
        release: release.number,
        plan,
        ...(live ? { previousPlan: live.plan } : {}),
        decision,
        images,
        fingerprints: release.fingerprints,
        files: releases.files(app, release.number),
        log,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onRollingBack ? { onRollingBack: options.onRollingBack } : {}),
      },
    );
  }

  /** Runs `work` under the app's lock; whatever it did to the replicas makes surveys stale for the app. */
  private exclusive<T>(app: string, work: () => Promise<T>): Promise<T> {
    return this.locks.exclusive(app, async () => {
      try {
        return await work();
      } finally {
        this.changed(app);
      }
    });
  }

  private changed(app: string): void {
    this.changes.set(app, (this.changes.get(app) ?? 0) + 1);
  }

  private async converge(
    app: string,
    log: Log,
    policy: StartPolicy,
    survey?: ReplicaSurvey,
  ): Promise<void> {
    const { deployments, releases, engine, edge } = this.options;
    const desired = deployments.desired(app);
    const release = desired.release !== undefined ? releases.find(app, desired.release) : undefined;
    const listed = survey?.replicas(app);
    await converge(
      {
        engine,
        edge,
        retire: (replicas) => this.retirements.retire(replicas),
        untilRetired: (a, services) => this.retirements.until(a, services),
        httpUnhealthy: this.options.httpUnhealthy ?? httpUnhealthy,
      },
      {
        app,
        release,
        scale: desired.scale,
        current: listed ? this.currentOf(app, listed) : await this.replicasOf(app),
        files: () => (release ? releases.files(app, release.number) : {}),
        policy,
        log,
        ...(this.options.recordEvent
          ? { recordEvent: (message: string) => this.options.recordEvent?.(app, message) }
          : {}),
      },
    );
  }

  /**
   * The app's replicas, without the old ones being retired in the
   * background (they are on their way out). A replica an older Skiff
   * started carries no fingerprint: it gets its release's.
   */
  private async replicasOf(app: string): Promise<Replica[]> {
    return this.currentOf(app, await this.options.engine.list(app));
  }

  /** The listed replicas that count for the desired state (see replicasOf). */
  private currentOf(app: string, all: readonly Replica[]): Replica[] {
    // Each older release is read (and its plan decoded) once, however many of its replicas there are.
    const releases = new Map<number, DeployRelease | undefined>();
    const releaseOf = (number: number) => {
      if (!releases.has(number)) releases.set(number, this.options.releases.find(app, number));
      return releases.get(number);
    };
    return all
      .filter((r) => !this.retirements.has(r.id))
      .map((r) => {
        if (r.fingerprint !== undefined) return r;
        const fingerprint = releaseOf(r.release)?.fingerprints[r.service];
        return fingerprint ? { ...r, fingerprint } : r;
      });
  }

  private liveRelease(app: string): DeployRelease {
    const live = this.options.deployments.desired(app).release;
    if (live === undefined) {
      throw new NotFoundError(`${app} has no live release yet`, `git push to deploy one first`);
    }
    return this.options.releases.get(app, live);
  }

  /** A failed background retirement is an event; recording it must never take the server down. */
  private reportRetireFailure(replica: Replica, error: Error): void {
    try {
      this.options.recordEvent?.(
        replica.app,
        `${replica.service}: could not remove old replica ${replica.name}: ${error.message}; the reconciler tries again`,
      );
    } catch {
      // The store is closed (the server is stopping); the reconciler finds the replica at the next start.
    }
  }
}

function asDeployFailure(error: unknown): Error {
  if (error instanceof ReplicaFailure) return new DeployFailure(error.message, error.logTail);
  return error as Error;
}
